// Vite's module kinds (`*.wgsl?raw`, `*?worker&inline`) and import.meta.env, for the library's own declaration build.
/// <reference types="vite/client" />
