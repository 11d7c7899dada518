// The command line as a person would type it again, for a report to state what made it: the program as it was invoked
// (`stickyscope` or `kubectl stickyscope`), then each argument, shell-quoted where a shell would split or expand it.

export function commandLine(command: string, argv: readonly string[]): string {
  const program = /kubectl-stickyscope(\.js)?$/.test(process.argv[1] ?? '') ? 'kubectl stickyscope' : 'stickyscope';
  return [program, ...[command, ...argv].map(shellQuote)].join(' ');
}

/** `a b` as 'a b', `it's` as 'it'\''s'; words of safe characters as they are. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
