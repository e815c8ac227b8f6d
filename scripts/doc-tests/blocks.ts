// The doc tests' reader: the fenced blocks of README.md and docs/*.md, with the tags that say how
// each one runs. A tag is a word after the fence's language (```python envd file=demo/build.envd),
// or, for a block whose fence line must stay as it is, an HTML comment on the line just before it
// (<!-- doctest: skip="..." -->). Values with spaces are quoted: skip="needs a registry".
//
//   ```python envd [file=PATH] [render] [exit=N] [fragment=build|serve]   an env file: `plan` (and `render`) must exit N (0)
//   ```python envd-lib file=PATH                                         a file other env files load(): written, run through them
//   ```yaml file=PATH                                                    any other file a later example of the page uses
//   ```yaml policy [file=PATH]                                           an ExposurePolicy file: `plan --policy` must accept it
//   ```console [scenario=local|k8s] [cwd=repo]                           `$ cmd` lines and their expected output
//   ```any skip="reason"                                                 shown, not run (counted: at most 10 % of the blocks)
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface Block {
  page: string; // repo-relative
  line: number; // 1-based line of the opening fence
  lang: string;
  tags: Record<string, string>; // bare words map to ''
  body: string;
}

/** The pages the doc tests read: the README and every page under docs/. */
export function docPages(root = REPO): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => join('docs', f));
  return ['README.md', ...docs];
}

export function parseTags(words: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const m of words.matchAll(/([\w-]+)(?:=(?:"([^"]*)"|(\S+)))?/g)) tags[m[1]!] = m[2] ?? m[3] ?? '';
  return tags;
}

export function parseBlocks(markdown: string, page: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith(fence); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`${page}:${start + 1}: a fenced block that never closes`);
    const comment = /^<!--\s*doctest:\s*(.*?)\s*-->$/.exec(lines[start - 1] ?? '');
    const tags = { ...parseTags(open[3]!), ...(comment ? parseTags(comment[1]!) : {}) };
    blocks.push({ page, line: start + 1, lang: open[2]!, tags, body: body.join('\n') + '\n' });
  }
  return blocks;
}

export function readBlocks(root = REPO): Block[] {
  return docPages(root).flatMap((p) => parseBlocks(readFileSync(join(root, p), 'utf8'), p));
}

export type Kind = 'envd' | 'lib' | 'policy' | 'console' | 'skip' | 'file' | 'other';

/** How a block runs; a block that shows an env file or an envserve command and says nothing is an error. */
export function kindOf(b: Block): Kind {
  if ('skip' in b.tags) return 'skip';
  if ('envd' in b.tags) return 'envd';
  if ('envd-lib' in b.tags) return 'lib';
  if ('policy' in b.tags) return 'policy';
  if (b.lang === 'console') return 'console';
  if ('file' in b.tags) return 'file';
  return 'other';
}

/** Blocks that look like an env file or an envserve command but carry no tag: they would rot unseen. */
export function untagged(b: Block): string | undefined {
  if (kindOf(b) !== 'other') return undefined;
  if (b.lang === 'python' || b.lang === 'starlark') return 'an env file with no envd (or skip) tag';
  if (/(^|\s|\$ )(envserve|bin\/envserve\.js)\s/m.test(b.body) && !['ts', 'js', 'json', 'yaml'].includes(b.lang)) {
    return 'an envserve command outside a ```console block (and no skip tag)';
  }
  return undefined;
}

export const where = (b: Block) => `${b.page}:${b.line}`;
export const rel = (p: string) => relative(REPO, p);
