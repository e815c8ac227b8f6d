// Files a credential is read from at use: a user's `tokenFile` (projected ServiceAccount tokens
// and CI secrets rotate), the in-cluster token, and certificate/key/CA files. Each is read again
// whenever its inode, size or mtime changed, so a rotated file is used by the next request.
import { readFile, stat } from 'node:fs/promises';

export class WatchedFile {
  private seen?: { key: string; data: Buffer };

  constructor(readonly path: string) {}

  /** The file's bytes now; throws the errno code (ENOENT...) as the message. */
  async read(): Promise<Buffer> {
    try {
      const s = await stat(this.path);
      const key = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (this.seen?.key === key) return this.seen.data;
      const data = await readFile(this.path);
      this.seen = { key, data };
      return data;
    } catch (e) {
      throw new Error((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
  }
}

export class TokenFile {
  private readonly file: WatchedFile;

  constructor(readonly path: string) {
    this.file = new WatchedFile(path);
  }

  /** The last token read from the file, for when it cannot be read again. */
  last?: string;

  /** The token now in the file; throws when it cannot be read or is empty. */
  async token(): Promise<string> {
    let token: string;
    try {
      token = (await this.file.read()).toString('utf8').trim();
    } catch (e) {
      throw new Error(`cannot read the kubeconfig's tokenFile ${this.path}: ${(e as Error).message}`);
    }
    if (!token) throw new Error(`the kubeconfig's tokenFile ${this.path} is empty`);
    return (this.last = token);
  }
}
