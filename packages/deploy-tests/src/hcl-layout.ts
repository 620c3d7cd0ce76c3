/** One line of HCL with strings and comments blanked out, so brackets and `=` can be found. */
interface CodeLine {
  text: string;
  code: string;
  /** Bracket depth at the start of the line. */
  depth: number;
}

const OPENERS = new Set(['{', '[', '(']);
const CLOSERS = new Set(['}', ']', ')']);

/**
 * Blanks out string literals (with their `${...}` templates) and comments, keeping columns, and
 * records the bracket depth at the start of every line.
 */
function codeLines(text: string): { lines: CodeLine[]; error?: string } | string {
  const out: CodeLine[] = [];
  // Stack of contexts: 'code' (bracket-counted), 'string', 'template' (a ${...} inside a string).
  const stack: ('code' | 'string' | 'template')[] = ['code'];
  let depth = 0;
  let templateDepth = 0;
  for (const line of text.split('\n')) {
    if (/<<-?[A-Z]+\s*$/.test(line)) return 'heredocs are not supported by this check';
    const startDepth = depth;
    let code = '';
    for (let i = 0; i < line.length; i++) {
      const ch = line[i] ?? '';
      const top = stack[stack.length - 1];
      if (top === 'string') {
        if (ch === '\\') {
          code += '  ';
          i++;
        } else if (ch === '"') {
          stack.pop();
          code += '"';
        } else if (ch === '$' && line[i + 1] === '{') {
          stack.push('template');
          templateDepth = 0;
          code += '  ';
          i++;
        } else code += ' ';
        continue;
      }
      if (top === 'template') {
        if (ch === '"') stack.push('string');
        else if (ch === '{') templateDepth++;
        else if (ch === '}') {
          if (templateDepth === 0) stack.pop();
          else templateDepth--;
        }
        code += ' ';
        continue;
      }
      if (ch === '#' || (ch === '/' && line[i + 1] === '/')) break;
      if (ch === '"') {
        stack.push('string');
        code += '"';
        continue;
      }
      if (OPENERS.has(ch)) depth++;
      if (CLOSERS.has(ch)) depth--;
      code += ch;
    }
    if (stack.length !== 1) return `unterminated string on line ${out.length + 1}`;
    out.push({ text: line, code, depth: startDepth });
  }
  return depth === 0
    ? { lines: out }
    : { lines: out, error: `brackets do not balance (depth ${depth} at the end)` };
}

const ASSIGNMENT = /^(\s*)([A-Za-z_][A-Za-z0-9_-]*)(\s*)=(?!=)(\s*)(.*)$/;

/**
 * Problems `terraform fmt -check` would report, for the layout rules it applies: two-space
 * indentation by nesting depth, `=` of consecutive attributes aligned one space after the longest
 * name, one space after `=`, no tabs or trailing spaces, a single final newline. Empty = formatted.
 */
export function terraformLayoutProblems(text: string, file: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('\n') || text.endsWith('\n\n'))
    problems.push(`${file}: must end with exactly one newline`);
  if (text.includes('\r')) problems.push(`${file}: CRLF line endings`);
  const parsed = codeLines(text.replace(/\n$/, ''));
  if (typeof parsed === 'string') return [...problems, `${file}: ${parsed}`];
  if (parsed.error) problems.push(`${file}: ${parsed.error}`);
  const lines = parsed.lines;

  let chain: { line: number; nameEnd: number; eq: number }[] = [];
  let chainDepth = -1;
  const closeChain = () => {
    if (chain.length > 0) {
      const want = Math.max(...chain.map((c) => c.nameEnd)) + 1;
      for (const c of chain) {
        if (c.eq !== want)
          problems.push(`${file}:${c.line}: "=" at column ${c.eq + 1}, aligned column is ${want + 1}`);
      }
    }
    chain = [];
  };

  lines.forEach((l, index) => {
    const n = index + 1;
    if (l.text.includes('\t')) problems.push(`${file}:${n}: tab character`);
    if (/\s+$/.test(l.text)) problems.push(`${file}:${n}: trailing whitespace`);
    if (l.text.trim() === '') {
      closeChain();
      return;
    }
    const indent = l.text.length - l.text.trimStart().length;
    const first = l.code.trimStart()[0] ?? '';
    const expected = 2 * (CLOSERS.has(first) ? l.depth - 1 : l.depth);
    if (indent !== expected) problems.push(`${file}:${n}: indented ${indent} spaces, expected ${expected}`);

    const match = ASSIGNMENT.exec(l.code);
    const isComment = l.code.trim() === '';
    if (!match || isComment) {
      closeChain();
      return;
    }
    const [, lead = '', name = '', , after = ''] = match;
    if (after !== ' ') problems.push(`${file}:${n}: one space expected after "="`);
    if (l.depth !== chainDepth) closeChain();
    chainDepth = l.depth;
    chain.push({
      line: n,
      nameEnd: lead.length + name.length,
      eq: l.code.indexOf('=', lead.length + name.length),
    });
    // A value that opens a bracket it does not close continues on the next lines, which end the chain.
    const opened =
      [...l.code].filter((c) => OPENERS.has(c)).length - [...l.code].filter((c) => CLOSERS.has(c)).length;
    if (opened > 0) closeChain();
  });
  closeChain();
  return problems;
}
