// Drives a real web4p2p node with the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk), over both transports the node serves: stdio
// (`web4p2p mcp --data-dir DIR`, attached to the running node) and
// Streamable HTTP (/mcp on the control API, with the bearer token).
//
// itest/mcp_typescript_test.go starts two nodes and runs `node mcp.test.mjs` with
//   WEB4P2P_BIN       the web4p2p binary
//   WEB4P2P_MCP_DIR   the data dir of node A (api.addr, api.token)
//   WEB4P2P_MCP_PEER  the PeerID of node B, a peer of A
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run from go test ./itest -run TestMCPWithTypeScriptSDK`);
  return v;
};
const bin = env("WEB4P2P_BIN");
const dir = env("WEB4P2P_MCP_DIR");
const peerB = env("WEB4P2P_MCP_PEER");
const api = readFileSync(join(dir, "api.addr"), "utf8").trim();
const token = readFileSync(join(dir, "api.token"), "utf8").trim();

const TOOLS = ["list_peers", "send_intent", "propose_fact", "vote_fact", "query_facts", "learn_url", "why", "ask_human"];

// setConsent is the human's consent, through the control API (not MCP).
async function setConsent(consent) {
  const r = await fetch(`http://${api}/v1/human/consent`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ consent }),
  });
  assert.equal(r.status, 200, `consent ${consent}: HTTP ${r.status} ${await r.text()}`);
}

async function call(client, name, args) {
  const res = await client.callTool({ name, arguments: args });
  assert.ok(!res.isError, `${name}: tool error ${JSON.stringify(res.content)}`);
  assert.ok(res.structuredContent, `${name}: no structured content`);
  return res.structuredContent;
}

// invalid calls name and expects a JSON-RPC invalid-params error (or, for
// an argument the SDK's schema check refuses, a tool error) naming want.
async function expectArgError(client, name, args, want) {
  let res;
  try {
    res = await client.callTool({ name, arguments: args });
  } catch (e) {
    assert.ok(e instanceof McpError, `${name}: ${e} is not an McpError`);
    assert.equal(e.code, ErrorCode.InvalidParams, `${name}: code ${e.code}, message ${e.message}`);
    assert.match(e.message, want);
    return;
  }
  assert.ok(res.isError, `${name} ${JSON.stringify(args)}: no error`);
  assert.match(res.content.map((c) => c.text ?? "").join(" "), want);
}

async function waitFor(what, fn, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// exercise runs the whole scenario over one connected client.
async function exercise(client, label) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const t of TOOLS) assert.ok(names.includes(t), `${label}: tool ${t} not listed (${names})`);
  for (const t of tools) assert.equal(t.inputSchema.type, "object", `${label}: ${t.name} input schema`);

  const peers = await waitFor("B ready as A's peer", async () => {
    const out = await call(client, "list_peers", {});
    return out.peers.some((p) => p.peer_id === peerB && p.cip_ready) ? out : null;
  });
  assert.ok(peers.self && peers.self !== peerB);
  const b = peers.peers.find((p) => p.peer_id === peerB);
  assert.ok(["probing", "trusted"].includes(b.trust), `trust of B: ${b.trust}`);

  const reply = await call(client, "send_intent", { peer: peerB, goal: "ask", topic: "research", context: `from ${label}` });
  assert.equal(reply.decision, "accept", JSON.stringify(reply));
  assert.equal(reply.peer, peerB);
  assert.ok(reply.reply_to);

  const statement = `${label} says water boils at 100 C at sea level`;
  const fact = await call(client, "propose_fact", { statement, domain: "science", confidence: 0.9 });
  assert.ok(fact.fact_id);
  assert.notEqual(fact.status, "accepted", "a lone proposal is not accepted");
  const q = await call(client, "query_facts", { query: label });
  assert.ok(Array.isArray(q.facts));
  for (const f of q.facts) assert.equal(f.status, "accepted", "query_facts returned a non-accepted fact");
  assert.ok(!q.facts.some((f) => f.fact_id === fact.fact_id), "the proposed fact is not knowledge yet");

  const why = await call(client, "why", { id: fact.fact_id });
  assert.equal(why.id, fact.fact_id);
  assert.ok(Array.isArray(why.chain) && why.chain.length > 0, `why: ${JSON.stringify(why)}`);

  await setConsent("revoked");
  try {
    const held = await call(client, "ask_human", { topic: "deploy", question: `${label}: ship it?`, alternatives: ["yes", "no"] });
    assert.equal(held.status, "held", JSON.stringify(held));
    assert.equal(held.waiting_for_human, true);
    assert.match(held.message, /waiting for the human/);
  } finally {
    await setConsent("granted");
  }
  const asked = await call(client, "ask_human", { topic: "deploy", question: `${label}: ship it now?`, alternatives: ["yes", "no"] });
  assert.equal(asked.status, "pending", JSON.stringify(asked));
  assert.equal(asked.waiting_for_human, true);

  await expectArgError(client, "send_intent", { peer: "nope", goal: "ask", topic: "x" }, /argument peer/);
  await expectArgError(client, "send_intent", { peer: peerB, goal: "conquer", topic: "x" }, /"goal"/);
  await expectArgError(client, "vote_fact", { fact_id: fact.fact_id, decision: "maybe", confidence: 1 }, /argument decision/);
  await expectArgError(client, "ask_human", { topic: "t", question: "q", alternatives: ["only"] }, /argument alternatives/);
  await expectArgError(client, "propose_fact", { domain: "d", confidence: 1 }, /statement/);

  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === "web4p2p://facts"), `resources: ${JSON.stringify(resources)}`);
  const res = await client.readResource({ uri: "web4p2p://peers" });
  assert.ok(JSON.parse(res.contents[0].text).peers.some((p) => p.peer_id === peerB));
}

// over connects a client through transport and runs the scenario.
async function over(transport, label) {
  const client = new Client({ name: "web4p2p-itest-ts", version: "1.0.0" });
  await client.connect(transport);
  try {
    assert.equal(client.getServerVersion()?.name, "web4p2p");
    await exercise(client, label);
  } finally {
    await client.close();
  }
}

test("stdio: web4p2p mcp attached to the running node", () =>
  over(new StdioClientTransport({ command: bin, args: ["mcp", "--data-dir", dir], stderr: "inherit" }), "stdio"));

test("Streamable HTTP: /mcp with the bearer token", () =>
  over(new StreamableHTTPClientTransport(new URL(`http://${api}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  }), "http"));

test("Streamable HTTP without the token is refused", async () => {
  const client = new Client({ name: "web4p2p-itest-ts", version: "1.0.0" });
  await assert.rejects(client.connect(new StreamableHTTPClientTransport(new URL(`http://${api}/mcp`))), /401|nauthorized/);
});
