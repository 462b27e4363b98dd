// WGSL sources are imported as text: `import source from '../../shaders/x.wgsl?raw'`.
// Vite resolves `?raw` in the app and in vitest; the Node CLIs use scripts/raw-hooks.mjs.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
