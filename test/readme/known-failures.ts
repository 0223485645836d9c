/**
 * README blocks that are known not to typecheck, by id (`<readme>#<n>`, the
 * n-th TypeScript block of that README) with the reason. Each runs as
 * `it.fails`: it must keep failing, so fixing the block makes the test say
 * "remove the entry". Not a way to skip a block: a block that is not code
 * says so in the README with `<!-- not-checked: reason -->`.
 */
export const KNOWN_FAILURES: Record<string, string> = {
};
