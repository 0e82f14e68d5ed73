export interface ToolResult {
  readonly ok: boolean;
  readonly output: string;
}
export interface PackageCheck {
  readonly name: string;
  readonly dir: string;
  /** Paths in the tarball `pnpm pack` makes. */
  readonly files: string[];
  /** What is missing from it or should not be in it; [] when it is exactly right. */
  readonly problems: string[];
  readonly publint: ToolResult;
  readonly attw: ToolResult;
  readonly ok: boolean;
}
export declare const repoRoot: string;
export declare function publishablePackages(root?: string): string[];
export declare function packedFiles(pkgDir: string): Promise<string[]>;
export declare function checkPackedFiles(pkgDir: string, files: readonly string[]): string[];
export declare function publint(pkgDir: string): Promise<ToolResult>;
export declare function attw(pkgDir: string): Promise<ToolResult>;
export declare function checkPackage(pkgDir: string): Promise<PackageCheck>;
