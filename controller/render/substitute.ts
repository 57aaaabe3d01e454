// Fills ${NAME} placeholders; "$${NAME}" stays as a literal "${NAME}". An unknown name is an
// error that names it, so a typo never reaches a node.
export function substitute(text: string, vars: Record<string, string>, where: string): string {
  return text.replace(/\$(\$?)\{([^}]*)\}/g, (whole, escaped: string, name: string) => {
    if (escaped) return whole.slice(1);
    if (!(name in vars)) {
      throw new Error(`unknown placeholder \${${name}}${where ? ` in ${where}` : ''} (known: ${Object.keys(vars).sort().join(', ')})`);
    }
    return vars[name];
  });
}

// Applies substitute to every string inside a value.
export function substituteDeep<T>(value: T, vars: Record<string, string>, where: string): T {
  if (typeof value === 'string') return substitute(value, vars, where) as T;
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, vars, where)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, vars, where)])) as T;
  }
  return value;
}
