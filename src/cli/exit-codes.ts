/** The CLI's exit codes, shared by every command. */
export const EXIT = {
  /** Success (for the doctor: no check failed). */
  OK: 0,
  /** The operation failed (delivery refused, a doctor check failed). */
  FAILED: 1,
  /** Invalid settings or arguments: nothing was attempted. */
  INVALID: 2,
} as const;
