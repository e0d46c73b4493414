// Reference comparisons with node-semver for the portcullis-versions differential tests.
// Usage: node semver_oracle.js loose|strict PAIRS_FILE
// Prints one answer per tab-separated pair (-1, 0, 1, or E when either side is invalid),
// then a line "tool: node-semver X (node Y)".
'use strict'
const fs = require('fs')
const path = require('path')
const SemVer = require(path.join(__dirname, '..', 'node', 'node_modules', 'semver', 'classes', 'semver.js'))
const pkg = require(path.join(__dirname, '..', 'node', 'node_modules', 'semver', 'package.json'))
const loose = process.argv[2] === 'loose'
const parse = (s) => { try { return new SemVer(s, { loose }) } catch (e) { return null } }
const out = []
for (const line of fs.readFileSync(process.argv[3], 'utf8').split('\n')) {
  if (line === '') continue
  const [a, b] = line.split('\t')
  const va = parse(a)
  const vb = parse(b)
  out.push(va === null || vb === null ? 'E' : String(va.compare(vb)))
}
out.push(`tool: node-semver ${pkg.version} (node ${process.version})`)
process.stdout.write(out.join('\n') + '\n')
