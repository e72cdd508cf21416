// GraphiQL as served at /graphql, in headless Chromium with no network beyond loopback: the
// page loads, its default tab's query runs with the token typed into the Headers tab, and a
// subscription run from the page shows an image job's live updates. Saves a screenshot.
// Prints one JSON line; exits 1 on failure.
// Usage: node graphiql.mjs <base url> <token> <project id> <instance id> <screenshot path>
import { statSync } from 'node:fs';
import { launch } from './browser.mjs';

const [base, token, projectId, instanceId, screenshot] = process.argv.slice(2);
const report = { ok: false, console: [], pageErrors: [], frames: { text: 0, binary: 0 }, sent: [] };
let session;
const deadline = setTimeout(() => fail(new Error('timed out after 90 s')), 90_000);

async function fail(error) {
  report.error = String(error && (error.stack || error.message) || error);
  try {
    if (session && report.page) await report.page.screenshot({ path: screenshot });
  } catch { /* the failure is what matters */ }
  delete report.page;
  console.log(JSON.stringify(report));
  process.exit(1);
}

const editorValue = (page, selector) => page.evaluate(
  (s) => document.querySelector(s).CodeMirror.getValue(), selector,
);
const setEditor = (page, selector, value) => page.evaluate(
  ([s, v]) => document.querySelector(s).CodeMirror.setValue(v), [selector, value],
);
// Sets the visible editor of the Variables or Headers tab.
async function setTool(page, name, value) {
  await page.getByRole('button', { name, exact: true }).click();
  await page.waitForSelector(TOOL_EDITOR);
  await setEditor(page, TOOL_EDITOR, value);
}

async function run(page) {
  // GraphiQL re-reads its editors after a short debounce.
  await page.waitForTimeout(400);
  await page.click('.graphiql-execute-button');
}

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const RESPONSE = '.graphiql-response .CodeMirror';
const TOOL_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';

try {
  session = await launch();
  const page = await session.context.newPage();
  report.page = page;
  page.on('console', (message) => report.console.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => report.pageErrors.push(String(error)));
  page.on('websocket', (ws) => {
    ws.on('framereceived', (frame) => { report.frames[typeof frame.payload === 'string' ? 'text' : 'binary'] += 1; });
    ws.on('framesent', (frame) => report.sent.push(String(frame.payload)));
  });
  await page.goto(base + '/graphql', { waitUntil: 'load' });
  await page.waitForSelector(QUERY_EDITOR, { timeout: 30_000 });
  report.title = await page.title();
  report.banner = await page.textContent('#continuity-banner');
  report.defaultQuery = await editorValue(page, QUERY_EDITOR);

  // The token goes into the Headers tab, as a person would paste it.
  await setTool(page, 'Headers', JSON.stringify({ Authorization: `Bearer ${token}` }));

  // The default tab's query, as it is.
  await run(page);
  await page.waitForFunction((s) => {
    const editor = document.querySelector(s);
    return editor && editor.CodeMirror.getValue().includes('"viewer"');
  }, RESPONSE, { timeout: 30_000 });
  report.queryResponse = JSON.parse(await editorValue(page, RESPONSE));

  // The second default tab holds the subscription: give it the project and the token.
  await page.getByRole('tab', { name: 'Jobs' }).click();
  await page.waitForFunction((s) => document.querySelector(s).CodeMirror.getValue().includes('subscription Jobs'),
    QUERY_EDITOR);
  await setTool(page, 'Variables', JSON.stringify({ projectId }));
  await setTool(page, 'Headers', JSON.stringify({ Authorization: `Bearer ${token}` }));
  await run(page);
  const deadlineForSubscribe = Date.now() + 20_000;
  while (!report.sent.some((f) => f.includes('"subscribe"'))) {
    if (Date.now() > deadlineForSubscribe) throw new Error('GraphiQL never sent the subscription');
    await page.waitForTimeout(50);
  }
  await page.waitForTimeout(300);
  const queued = await fetch(base + '/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation($i: UUID!) { generateSceneAssetImage(instanceId: $i) { id status } }',
      variables: { i: instanceId },
    }),
  }).then((r) => r.json());
  if (queued.errors) throw new Error(JSON.stringify(queued.errors));
  report.jobId = queued.data.generateSceneAssetImage.id;
  // What the response pane shows as the job moves on, read from the DOM.
  report.shown = [];
  const until = Date.now() + 45_000;
  for (;;) {
    const text = await page.evaluate(
      (s) => Array.from(document.querySelectorAll(s)).map((line) => line.textContent).join('\n'),
      '.graphiql-response .CodeMirror-line',
    );
    const status = /"status":\s*"(\w+)"/.exec(text);
    if (status && report.shown.at(-1) !== status[1]) report.shown.push(status[1]);
    if (text.includes(report.jobId) && text.includes('"COMPLETED"')) {
      report.finalResponse = text;
      break;
    }
    if (Date.now() > until) throw new Error(`the page never showed COMPLETED; last: ${text}`);
    await page.waitForTimeout(25);
  }
  await page.screenshot({ path: screenshot });
  report.screenshot = screenshot;
  report.screenshotBytes = statSync(screenshot).size;
  report.offLoopback = session.offLoopback;
  report.ok = true;
  delete report.page;
  await session.close();
  clearTimeout(deadline);
  console.log(JSON.stringify(report));
} catch (error) {
  await fail(error);
}
