/** The package version, kept in one place for the CLI, the User-Agent and the ready lines. */
export const VERSION = '0.1.0';
