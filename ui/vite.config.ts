import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The window loads only bundled files (see the CSP in tauri.conf.json): no
// inline scripts, no remote content, assets under 4 KiB still emitted as files
// rather than data: URLs.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "safari15",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { fs: { allow: [".."] } },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
