/**
 * Parsers for command-line option values. A bad value is commander's InvalidArgumentError, so
 * the command stops before doing anything, prints the option's name and the value, and exits 2
 * (invalid arguments), like every other usage error.
 */
import { InvalidArgumentError } from 'commander';

/** A TCP port, 0–65535 (0: any free port). */
export function portArg(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError(`not a port number (0–65535): ${value}`);
  return Number(value);
}

/** A whole number ≥ 0. */
export function nonNegativeIntArg(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError(`not a whole number ≥ 0: ${value}`);
  return Number(value);
}
