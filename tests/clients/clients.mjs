// Asks one endpoint the same four queries with each JavaScript client and prints the answers as JSON, one line
// per check: {client, form, how, answer} with answer the ?s IRIs (SELECT), the boolean (ASK), the triples as
// N-Triples lines (CONSTRUCT, DESCRIBE), or {error}. Used by tests/test_node_clients.py.
// usage: node clients.mjs ENDPOINT QUERIES.json
import { readFileSync } from 'node:fs'
import { QueryEngine } from '@comunica/query-sparql'
import ParsingClient from 'sparql-http-client/ParsingClient.js'

const [endpoint, queriesFile] = process.argv.slice(2)
const queries = JSON.parse(readFileSync(queriesFile, 'utf8'))

function term (t) {
  if (t.termType === 'NamedNode') return `<${t.value}>`
  if (t.termType === 'BlankNode') return `_:${t.value}`
  const escaped = JSON.stringify(t.value)
  if (t.language) return `${escaped}@${t.language}`
  return `${escaped}^^<${t.datatype.value}>`
}

const triples = (quads) => [...quads].map(q => `${term(q.subject)} ${term(q.predicate)} ${term(q.object)} .`)

async function comunica (form, query) {
  const engine = new QueryEngine()
  const context = { sources: [{ type: 'sparql', value: endpoint }] }
  if (form === 'SELECT') return (await (await engine.queryBindings(query, context)).toArray()).map(b => b.get('s').value)
  if (form === 'ASK') return engine.queryBoolean(query, context)
  return triples(await (await engine.queryQuads(query, context)).toArray())
}

async function httpClient (form, query, operation) {
  const client = new ParsingClient({ endpointUrl: endpoint })
  if (form === 'SELECT') return (await client.query.select(query, { operation })).map(row => row.s.value)
  if (form === 'ASK') return client.query.ask(query, { operation })
  return triples(await client.query.construct(query, { operation }))
}

const checks = []
for (const [form, query] of Object.entries(queries)) {
  checks.push(['comunica', form, 'engine', () => comunica(form, query)])
  for (const operation of ['get', 'postUrlencoded', 'postDirect']) {
    checks.push(['sparql-http-client', form, operation, () => httpClient(form, query, operation)])
  }
}
for (const [client, form, how, run] of checks) {
  let answer
  try {
    answer = await run()
  } catch (error) {
    answer = { error: String(error && error.message ? error.message : error).slice(0, 500) }
  }
  process.stdout.write(JSON.stringify({ client, form, how, answer }) + '\n')
}
