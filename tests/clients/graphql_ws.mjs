// The official graphql-ws client under Node (ws as its WebSocket) follows an image job from
// QUEUED to COMPLETED and sees its stream complete. Prints one JSON line; exits 1 on failure.
// Usage: node graphql_ws.mjs <base url> <token> <project id> <instance id>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, token, projectId, instanceId] = process.argv.slice(2);
const wsUrl = base.replace(/^http/, 'ws') + '/graphql';
const JOB = 'id status imageUrl error';
const deadline = setTimeout(() => fail(new Error('timed out after 60 s')), 60_000);

function fail(error) {
  console.log(JSON.stringify({ ok: false, error: String(error && (error.stack || error.message) || JSON.stringify(error)) }));
  process.exit(1);
}

// Every frame the server sends, as ws sees it: text or binary.
const frames = { text: 0, binary: 0 };
class Watched extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on('message', (_data, isBinary) => { frames[isBinary ? 'binary' : 'text'] += 1; });
  }
}

const closes = [];
const client = createClient({
  url: wsUrl,
  webSocketImpl: Watched,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: { closed: (event) => closes.push({ code: event.code, reason: event.reason }) },
});

function stream(query, variables, onNext) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const dispose = client.subscribe({ query, variables }, {
      next: (value) => {
        if (value.errors) { reject(new Error(JSON.stringify(value.errors))); return; }
        seen.push(value.data.imageJobUpdated);
        if (onNext) onNext(value.data.imageJobUpdated, seen, dispose, resolve);
      },
      error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error.code ? { code: error.code, reason: error.reason } : error))),
      complete: () => resolve({ seen, completed: true }),
    });
  });
}

async function post(query, variables) {
  const response = await fetch(base + '/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

try {
  let jobId = null;
  // The project's stream: its first message is the job's QUEUED, sent as the job is created.
  const byProject = stream(
    `subscription($p: UUID) { imageJobUpdated(projectId: $p) { ${JOB} } }`,
    { p: projectId },
    (job, seen, dispose, resolve) => {
      if (job.id === jobId && job.status === 'COMPLETED') {
        dispose();
        resolve({ seen: seen.filter((j) => j.id === jobId), completed: false });
      }
    },
  );
  // graphql-ws connects lazily: a round trip on the same socket (and a moment for the server
  // to start listening for the project) before the job is queued.
  await new Promise((resolve, reject) => {
    client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: reject, complete: resolve });
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const data = await post(
    'mutation($i: UUID!) { generateSceneAssetImage(instanceId: $i) { id status } }',
    { i: instanceId },
  );
  jobId = data.generateSceneAssetImage.id;
  // The job's own stream: first its current state, and it ends after the terminal one.
  const byJob = await stream(`subscription($j: UUID) { imageJobUpdated(jobId: $j) { ${JOB} } }`, { j: jobId });
  const project = await byProject;
  await client.dispose();
  clearTimeout(deadline);
  console.log(JSON.stringify({
    ok: true,
    jobId,
    projectStatuses: project.seen.map((j) => j.status),
    jobStatuses: byJob.seen.map((j) => j.status),
    jobStreamCompleted: byJob.completed,
    imageUrl: byJob.seen.at(-1).imageUrl,
    frames,
    closes,
  }));
} catch (error) {
  console.log(JSON.stringify({ frames, closes }));
  fail(error);
}
