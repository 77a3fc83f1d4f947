// Starts a real `evo-voice demo` on a free port for the client tests and
// stops it afterwards. The binary is the one `cargo build` produced.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export function binaryPath() {
  return process.env.EVO_VOICE_BIN ?? join(root, 'target', 'debug', 'evo-voice')
}

/** Starts the demo server; resolves to { baseUrl, stop }. */
export async function startDemo(extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'evo-voice-client-'))
  const child = spawn(binaryPath(), ['demo', '--bind', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  })
  let output = ''
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${output}`)), 60_000)
    child.stdout.on('data', chunk => {
      output += chunk
      const match = output.match(/running on (http:\/\/[0-9.:]+)/)
      if (match) { clearTimeout(timer); resolve(match[1]) }
    })
    child.stderr.on('data', chunk => { output += chunk })
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`demo exited with ${code}:\n${output}`)) })
    child.on('error', error => { clearTimeout(timer); reject(new Error(`cannot start ${binaryPath()}: ${error.message}`)) })
  })
  return {
    baseUrl,
    async stop() {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
