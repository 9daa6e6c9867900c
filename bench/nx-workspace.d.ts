// Types of nx-workspace.js for the TypeScript tests that use it.
export interface KilnTarballs {
  core: string;
  nxPlugin: string;
}
export interface NxRun {
  status: number | null;
  stdout: string;
  stderr: string;
  output: string;
}
export function nxVersion(): string;
export function packKiln(dir: string): KilnTarballs;
export function createNxWorkspace(dir: string, options: { files: Record<string, string>; nxJson: unknown; tarballs: KilnTarballs }): void;
export function git(dir: string, ...args: string[]): string;
export function commitAll(dir: string, message: string): void;
export function nx(dir: string, args: string[], env?: Record<string, string | undefined>): NxRun;
