#!/usr/bin/env node
// Runs the compiled CLI (npm run build first).
import '../dist/cli/main.js'
