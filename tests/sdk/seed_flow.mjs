#!/usr/bin/env node
/**
 * The seed cookbook flow ("Build agents that remember your users") run with the official TypeScript SDK
 * (`@anthropic-ai/sdk@1.13.0`, installed into tests/sdk/node_modules by tests/sdk/setup.sh) against the server at
 * ANTHROPIC_BASE_URL (the cma emulator, on 127.0.0.1). The same flow and checks as seed_flow.py.
 *
 * The TypeScript SDK does not validate responses against its types (it only parses JSON), so the shape checks
 * that the Python SDK's strict validation does for free are spelled out here for the fields the flow reads.
 *
 *     ANTHROPIC_BASE_URL=http://127.0.0.1:8080 node tests/sdk/seed_flow.mjs
 *
 * Environment:
 *     ANTHROPIC_BASE_URL   required (the script refuses to run against the default api.anthropic.com)
 *     ANTHROPIC_API_KEY    optional; defaults to a placeholder key the emulator accepts
 *     COOKBOOK_MODEL       optional; defaults to claude-sonnet-4-6 (as in the seed)
 *     SEED_FLOW_TIMEOUT    optional; per-request and per-stream-read timeout in seconds (default 60)
 *
 * Exits 0 and prints `seed flow OK` on success; prints `FAIL: <reason>` and exits 1 on the first failed check
 * (after a best-effort cleanup).
 */

import { createHash } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { VERSION } from '@anthropic-ai/sdk/version';

const MODEL = process.env.COOKBOOK_MODEL || 'claude-sonnet-4-6';
const TIMEOUT_MS = Number(process.env.SEED_FLOW_TIMEOUT || '60') * 1000;
const IDLE_POLL_STEP_MS = 250;
const IDLE_POLL_LIMIT_MS = 30_000;

const VISIT_ONE =
  "Hi! I'm looking for a new jacket. A few things about me: I wear a size " +
  'medium, I only buy vegan leather (no animal leather please), my budget ' +
  'is usually under $200, and I love earth tones. What would you suggest?';
const VISIT_TWO = "Hey, I'm back! I need a bag for work. Any recommendations?";
const PURCHASES = '## Recent purchases\n- Canvas tote, olive, $89 (Jan 2026)\n- Wool beanie, rust, $34 (Dec 2025)\n';

class FlowFailure extends Error {}

function check(cond, msg) {
  if (!cond) throw new FlowFailure(msg);
}

const sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');
const utf8Len = (text) => Buffer.byteLength(text, 'utf8');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const repr = (v) => JSON.stringify(v);

function step(title) {
  console.log(`\n== ${title}`);
}

function makeClient() {
  const baseURL = process.env.ANTHROPIC_BASE_URL;
  if (!baseURL) {
    throw new FlowFailure('ANTHROPIC_BASE_URL is not set; point it at the emulator (e.g. http://127.0.0.1:8080)');
  }
  if (baseURL.includes('api.anthropic.com')) {
    throw new FlowFailure('ANTHROPIC_BASE_URL points at the real API; this script is for the local emulator');
  }
  const apiKey = process.env.ANTHROPIC_API_KEY || 'sk-ant-emulator-placeholder';
  return new Anthropic({ apiKey, baseURL, timeout: TIMEOUT_MS });
}

let client; // set in main()

// ---- helpers from the seed ---------------------------------------------------------------------

/** Poll the session until it reports `idle` (it may still say `running` just after the idle event). */
async function waitForIdleStatus(sessionId) {
  const deadline = Date.now() + IDLE_POLL_LIMIT_MS;
  for (;;) {
    const { status } = await client.beta.sessions.retrieve(sessionId);
    if (status === 'idle') return;
    check(status !== 'terminated', `session ${sessionId} terminated while waiting for idle`);
    check(
      Date.now() < deadline,
      `session ${sessionId} not idle after ${IDLE_POLL_LIMIT_MS / 1000}s (status=${status})`,
    );
    await sleep(IDLE_POLL_STEP_MS);
  }
}

/** `iterator.next()`, failing the flow if no event arrives within TIMEOUT_MS (the SDK's timeout stops at headers). */
async function nextWithin(iterator, onTimeout) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new FlowFailure(`no stream event within ${TIMEOUT_MS / 1000}s`));
    }, TIMEOUT_MS);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Send one user message and stream the agent's response until it goes idle (the seed's helper, plus checks). */
async function runTurn(sessionId, userText) {
  console.log(`\n[user]  ${userText}`);
  const replyParts = [];
  const seen = [];
  let stopReason = null;

  // Open the stream first so no event of this turn is missed, then send.
  const stream = await client.beta.sessions.events.stream(sessionId);
  try {
    const sent = await client.beta.sessions.events.send(sessionId, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: userText }] }],
    });
    const echoed = sent.data ?? [];
    check(
      echoed.length === 1 && echoed[0].type === 'user.message' && echoed[0].id,
      `events.send should echo the user.message with an id, got ${repr(echoed)}`,
    );

    const iterator = stream[Symbol.asyncIterator]();
    for (;;) {
      const { value: event, done } = await nextWithin(iterator, () => stream.controller.abort());
      if (done) break;
      check(
        event && typeof event.type === 'string' && typeof event.id === 'string',
        `a streamed event needs a string type and id, got ${repr(event)}`,
      );
      seen.push(event.type);
      if (event.type === 'agent.message') {
        check(Array.isArray(event.content), `agent.message content should be a list, got ${repr(event.content)}`);
        for (const block of event.content) {
          if (block.type === 'text') {
            check(typeof block.text === 'string', `a text block needs a string text, got ${repr(block)}`);
            replyParts.push(block.text);
            console.log(`[agent] ${block.text}`);
          }
        }
      } else if (event.type === 'agent.tool_use') {
        // Surface reads and writes to the memory mount so you can see
        // the agent checking and updating its memory.
        const input = event.input ?? {};
        const target = input.file_path ?? input.command ?? '';
        if (String(target).includes('/mnt/memory/')) {
          console.log(`  [memory] ${event.name}: ${target}`);
        }
      } else if (event.type === 'session.status_idle') {
        // Break on any idle reason so an unexpected stop_reason
        // (such as requires_action) cannot hang the loop.
        check(
          event.stop_reason && typeof event.stop_reason.type === 'string',
          `session.status_idle needs a stop_reason object, got ${repr(event.stop_reason)}`,
        );
        stopReason = event.stop_reason.type;
        break;
      } else if (event.type === 'session.status_terminated') {
        break;
      }
    }
  } finally {
    // Ends the SSE request (a no-op when the stream already ended).
    stream.controller.abort();
  }

  console.log(`  [events] ${seen.join(' ')}`);
  check(stopReason !== null, `stream ended without session.status_idle (saw: ${seen.join(' ')})`);
  check(stopReason === 'end_turn', `turn ended with stop_reason=${repr(stopReason)}, expected 'end_turn'`);
  check(replyParts.length > 0, 'the agent sent no text in agent.message events');
  await waitForIdleStatus(sessionId);
  return replyParts.join('');
}

/** Every item of an auto-paginating list. */
async function collect(pagePromise) {
  const items = [];
  for await (const item of pagePromise) items.push(item);
  return items;
}

// ---- the flow ----------------------------------------------------------------------------------
async function flow(cleanup) {
  step('Step 1: create a memory store');
  const store = await client.beta.memoryStores.create({
    name: 'Shopper Preferences',
    description:
      'Personal shopping preferences for a single customer: ' +
      'sizes, style, budget, favorite brands, and materials to avoid.',
  });
  cleanup.push(() => client.beta.memoryStores.delete(store.id));
  console.log(store.id);
  check(
    typeof store.id === 'string' && store.id.startsWith('memstore_'),
    `memory store id ${repr(store.id)} should start with memstore_`,
  );
  check(store.type === 'memory_store' && store.archived_at === null, 'new store should be an unarchived memory_store');
  check(store.name === 'Shopper Preferences', 'store name not echoed');
  check(
    store.metadata && typeof store.metadata === 'object' && Object.keys(store.metadata).length === 0,
    `metadata should default to {}, got ${repr(store.metadata)}`,
  );

  step('Step 2: environment and agent');
  const environment = await client.beta.environments.create({
    name: 'shopping-demo',
    config: { type: 'cloud', networking: { type: 'limited' } },
  });
  cleanup.push(() => client.beta.environments.archive(environment.id));
  check(environment.config?.type === 'cloud', 'environment config type should be cloud');
  check(environment.config?.networking?.type === 'limited', 'environment networking should be limited');

  const agent = await client.beta.agents.create({
    name: 'Personal Shopper',
    model: MODEL,
    system:
      'You are a personal shopping assistant for a retail brand. ' +
      'Help the customer find products that match their taste and budget, ' +
      'and remember what you learn about them for future visits.',
    tools: [
      {
        type: 'agent_toolset_20260401',
        default_config: { enabled: true, permission_policy: { type: 'always_allow' } },
      },
    ],
  });
  cleanup.push(() => client.beta.agents.archive(agent.id));
  console.log(agent.id);
  check(agent.version === 1, `a new agent should be version 1, got ${agent.version}`);
  check(agent.model?.id === MODEL, `agent.model.id should be ${repr(MODEL)}, got ${repr(agent.model?.id)}`);
  const toolset = (agent.tools ?? []).filter((t) => t.type === 'agent_toolset_20260401');
  check(toolset.length === 1, 'agent should have one agent_toolset_20260401');
  check(
    toolset[0].default_config?.permission_policy?.type === 'always_allow',
    'default_config.permission_policy not kept',
  );
  const names = new Set((toolset[0].configs ?? []).map((c) => c.name));
  check(
    ['bash', 'read', 'write', 'edit', 'glob', 'grep'].every((n) => names.has(n)),
    `toolset configs not resolved: ${[...names].sort().join(', ')}`,
  );

  step('Step 3: first visit (the agent learns preferences)');
  const memoryResource = {
    type: 'memory_store',
    memory_store_id: store.id,
    access: 'read_write',
    instructions:
      "This customer's personal preferences: sizes, style, budget, and " +
      'materials to avoid. Check it at the start of every conversation ' +
      'and update it whenever you learn something new.',
  };
  const sessionOne = await client.beta.sessions.create({
    agent: { type: 'agent', id: agent.id, version: agent.version },
    environment_id: environment.id,
    resources: [memoryResource],
  });
  cleanup.push(() => client.beta.sessions.archive(sessionOne.id));
  check(sessionOne.status === 'idle', `a new session should be idle, got ${sessionOne.status}`);
  const mounted = (sessionOne.resources ?? []).filter((r) => r.type === 'memory_store');
  check(mounted.length === 1, 'session should list the memory_store resource');
  for (const resource of sessionOne.resources) {
    if (resource.type === 'memory_store') console.log(`Mounted at ${resource.mount_path}`);
  }
  check(
    mounted[0].mount_path === '/mnt/memory/shopper-preferences',
    `mount_path should be /mnt/memory/shopper-preferences, got ${repr(mounted[0].mount_path)}`,
  );
  check(
    mounted[0].memory_store_id === store.id && mounted[0].access === 'read_write',
    'memory resource not echoed',
  );
  check(mounted[0].name === store.name, 'memory resource should carry the store name copied at attach time');

  await runTurn(sessionOne.id, VISIT_ONE);

  step('Step 4: inspect what the agent saved (view=full)');
  const page = await client.beta.memoryStores.memories.list(store.id, { view: 'full' });
  const memories = page.data.filter((m) => m.type === 'memory');
  for (const memory of page.data) {
    if (memory.type === 'memory') {
      console.log(`=== ${memory.path} ===`);
      console.log(memory.content);
      console.log();
    }
  }
  check(memories.length > 0, 'the agent saved no memory during visit 1');
  for (const m of memories) {
    check(typeof m.content === 'string', `view=full should return content for ${m.path}`);
    check(m.content_sha256 === sha256Hex(m.content), `content_sha256 of ${m.path} is not sha256(content)`);
    check(m.content_size_bytes === utf8Len(m.content), `content_size_bytes of ${m.path} is wrong`);
    check(m.memory_store_id === store.id, 'memory_store_id mismatch');
  }
  const savedText = memories
    .map((m) => m.content ?? '')
    .join('\n')
    .toLowerCase();
  for (const word of ['medium', 'vegan', '200', 'earth']) {
    if (!savedText.includes(word)) console.log(`  [warn] saved memories do not mention ${repr(word)}`);
  }
  const agentMemoryIds = new Set(memories.map((m) => m.id));

  step('Step 5: return visit (the agent recalls on its own)');
  const sessionTwo = await client.beta.sessions.create({
    agent: { type: 'agent', id: agent.id, version: agent.version },
    environment_id: environment.id,
    resources: [memoryResource], // same store, new session
  });
  cleanup.push(() => client.beta.sessions.archive(sessionTwo.id));
  const reply = await runTurn(sessionTwo.id, VISIT_TWO);
  if (!reply.toLowerCase().includes('vegan')) {
    console.log('  [warn] the visit-2 reply does not mention vegan leather');
  }

  step('Seed a store from existing data');
  const seeded = await client.beta.memoryStores.memories.create(store.id, {
    path: '/purchase-history.md',
    content: PURCHASES,
  });
  console.log(`Seeded ${seeded.path}`);
  check(seeded.path === '/purchase-history.md', 'seeded path not echoed');
  check(
    seeded.content === null || seeded.content === undefined,
    'memories.create defaults to view=basic: content should be null',
  );
  check(seeded.content_sha256 === sha256Hex(PURCHASES), 'seeded content_sha256 is not sha256 of the UTF-8 content');
  check(seeded.content_size_bytes === utf8Len(PURCHASES), 'seeded content_size_bytes is wrong');

  step('Audit: memory_versions.list');
  const versions = await collect(client.beta.memoryStores.memoryVersions.list(store.id, { limit: 100 })); // auto-paginates
  for (const v of versions) {
    const who = v.created_by ? v.created_by.type : null;
    console.log(`  ${v.id} ${String(v.operation).padEnd(8)} ${v.path} by ${who}`);
  }
  const byMemory = new Map();
  for (const v of versions) {
    if (!byMemory.has(v.memory_id)) byMemory.set(v.memory_id, []);
    byMemory.get(v.memory_id).push(v);
  }
  check(byMemory.has(seeded.id), 'no version recorded for the seeded memory');
  const seededV = byMemory.get(seeded.id);
  check(
    seededV.length === 1 && seededV[0].operation === 'created',
    `seeded memory should have one 'created' version, got ${repr(seededV.map((v) => v.operation))}`,
  );
  check(seededV[0].id === seeded.memory_version_id, 'memory.memory_version_id should name its current version');
  check(seededV[0].created_by?.type === 'api_actor', 'an API write should be attributed to api_actor');
  const agentVersions = [...agentMemoryIds].flatMap((id) => byMemory.get(id) ?? []);
  check(agentVersions.length > 0, 'no versions recorded for the memories the agent wrote');
  check(
    agentVersions.every((v) => v.created_by?.type === 'session_actor'),
    'writes through /mnt/memory/ should be attributed to session_actor',
  );
  check(
    agentVersions.every((v) => [sessionOne.id, sessionTwo.id].includes(v.created_by.session_id)),
    'session_actor.session_id should name one of the two sessions',
  );

  step('Correct a memory with a content_sha256 precondition');
  const current = await client.beta.memoryStores.memories.retrieve(seeded.id, { memory_store_id: store.id });
  check(current.content === PURCHASES, 'memories.retrieve defaults to view=full and should return the content');
  const newContent = PURCHASES + '- Vegan leather belt, camel, $45 (Feb 2026)\n';
  const updated = await client.beta.memoryStores.memories.update(seeded.id, {
    memory_store_id: store.id,
    content: newContent,
    precondition: { type: 'content_sha256', content_sha256: current.content_sha256 },
  });
  check(updated.id === seeded.id, 'update must keep the memory id');
  check(updated.content_sha256 === sha256Hex(newContent), 'updated content_sha256 is wrong');
  check(updated.memory_version_id !== seeded.memory_version_id, 'an update must create a new memory version');
  console.log(
    `  updated ${updated.path}: ${current.content_sha256.slice(0, 12)}… -> ${updated.content_sha256.slice(0, 12)}…`,
  );

  let conflict = null;
  try {
    await client.beta.memoryStores.memories.update(seeded.id, {
      memory_store_id: store.id,
      content: 'this must not be written\n',
      precondition: { type: 'content_sha256', content_sha256: current.content_sha256 }, // now stale
    });
  } catch (e) {
    if (!(e instanceof Anthropic.APIError) || e.status !== 409) throw e;
    conflict = e;
  }
  check(conflict !== null, 'a stale precondition was accepted; expected ConflictError (409)');
  check(
    conflict instanceof Anthropic.ConflictError,
    `a 409 should raise Anthropic.ConflictError, got ${conflict.constructor.name}`,
  );
  check(
    conflict.type === 'memory_precondition_failed_error',
    `expected error.type memory_precondition_failed_error, got ${repr(conflict.type)}`,
  );
  console.log(
    `  stale precondition -> ${conflict.constructor.name} ${conflict.status} ${conflict.type} ` +
      `(request_id=${conflict.requestID})`,
  );
  if (conflict.headers?.get('x-should-retry') !== 'false') {
    console.log('  [warn] the 409 has no `x-should-retry: false`, so the SDK retried it (3 attempts)');
  }
  const after = await client.beta.memoryStores.memories.retrieve(seeded.id, {
    memory_store_id: store.id,
    view: 'full',
  });
  check(after.content === newContent, 'a failed precondition must not change the memory');

  const history = await collect(
    client.beta.memoryStores.memoryVersions.list(store.id, { memory_id: seeded.id }),
  );
  const ops = history.map((v) => v.operation).sort();
  check(
    repr(ops) === repr(['created', 'modified']),
    `seeded memory history should be created+modified, got ${repr(ops)}`,
  );

  step('Clean up');
  await waitForIdleStatus(sessionOne.id);
  await waitForIdleStatus(sessionTwo.id);
  cleanup.length = 0;
  const s1 = await client.beta.sessions.archive(sessionOne.id);
  const s2 = await client.beta.sessions.archive(sessionTwo.id);
  check(s1.archived_at && s2.archived_at, 'archived sessions should have archived_at');
  const deleted = await client.beta.memoryStores.delete(store.id);
  check(
    deleted.type === 'memory_store_deleted' && deleted.id === store.id,
    'memory store delete confirmation wrong',
  );
  const a = await client.beta.agents.archive(agent.id);
  check(a.archived_at, 'archived agent should have archived_at');
  const env = await client.beta.environments.archive(environment.id);
  check(env.archived_at, 'archived environment should have archived_at');
}

async function cleanupAndFail(cleanup) {
  for (const fn of cleanup.reverse()) {
    try {
      await fn();
    } catch {
      // best effort
    }
  }
  return 1;
}

async function main() {
  console.log(`@anthropic-ai/sdk ${VERSION}`);
  const cleanup = [];
  try {
    client = makeClient();
    console.log(`base_url ${client.baseURL}`);
    await flow(cleanup);
  } catch (e) {
    if (e instanceof FlowFailure) {
      console.error(`\nFAIL: ${e.message}`);
    } else if (e instanceof Anthropic.APIError && e.status !== undefined) {
      console.error(
        `\nFAIL: unexpected HTTP ${e.status} (${e.constructor.name}): ` +
          `type=${repr(e.type)} message=${repr(e.apiMessage)} request_id=${repr(e.requestID)}\n${e.stack}`,
      );
    } else {
      // connection errors, timeouts, an `event: error` frame, bugs
      console.error(e);
      console.error(`\nFAIL: ${e?.constructor?.name ?? typeof e}: ${e?.message ?? e}`);
    }
    return cleanupAndFail(cleanup);
  }
  console.log('\nseed flow OK');
  return 0;
}

process.exitCode = await main();
