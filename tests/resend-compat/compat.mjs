// Runs the official Resend Node SDK, unchanged, against EmailPlatform's Resend-compatible API.
//
//   RESEND_API_KEY=ep_...  RESEND_BASE_URL=http://127.0.0.1:8080/v1  node compat.mjs
//
// Only the SDK's public API is used. The SDK reads RESEND_BASE_URL itself when the client is constructed
// and appends the resource paths (`/emails`, `/emails/batch`, `/emails/{id}/cancel`, …) to it, so the base
// URL ends in `/v1`. Prints one line per check and exits non-zero when any check fails.
import { randomUUID } from 'node:crypto';
import { Resend } from 'resend';

const key = process.env.RESEND_API_KEY;
const baseUrl = process.env.RESEND_BASE_URL;
if (!key || !baseUrl) {
  console.error('set RESEND_API_KEY and RESEND_BASE_URL (e.g. http://127.0.0.1:8080/v1)');
  process.exit(2);
}

const resend = new Resend(key);
let failures = 0;

function check(name, ok, detail) {
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ` — ${detail ?? ''}`}`);
  return ok;
}

const show = (value) => JSON.stringify(value);

/** A `{data, error}` result that must have succeeded. */
function succeeded(name, result) {
  return check(`${name}: error is null`, result.error === null && result.data != null, `error=${show(result.error)} data=${show(result.data)}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads an email until `accept(data)` holds (the read side is eventually consistent) or the time is up. */
async function getUntil(id, accept, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let result;
  do {
    result = await resend.emails.get(id);
    if (result.error === null && accept(result.data)) return result;
    await sleep(250);
  } while (Date.now() < deadline);
  return result;
}

const LAST_EVENTS = new Set(['queued', 'scheduled', 'sent', 'delivered', 'delivery_delayed', 'bounced', 'failed', 'suppressed', 'canceled']);
const run = randomUUID().slice(0, 8);
const from = 'Acme <hello@acme.test>';

// ---- send, with an idempotency key (sent twice: the same id comes back)
const message = {
  from,
  to: ['you@example.test'],
  replyTo: 'support@acme.test',
  subject: `Resend SDK compat ${run}`,
  html: '<p>Sent with the <strong>Resend</strong> SDK.</p>',
  text: 'Sent with the Resend SDK.',
  headers: { 'X-Compat-Run': run },
  tags: [{ name: 'suite', value: 'resend_compat' }],
  attachments: [
    { filename: 'hello.txt', content: Buffer.from('Hello from the SDK.\n') },
    { filename: 'logo.png', content: Buffer.from('iVBORw0KGgo=', 'base64').toString('base64'), contentType: 'image/png', contentId: 'logo' },
  ],
};
const idempotencyKey = `compat-${run}`;
const sent = await resend.emails.send(message, { idempotencyKey });
succeeded('emails.send', sent);
const firstId = sent.data?.id;
check('emails.send: data.id is a string', typeof firstId === 'string' && firstId.length > 0, show(sent.data));

const again = await resend.emails.send(message, { idempotencyKey });
succeeded('emails.send (same Idempotency-Key)', again);
check('emails.send (same Idempotency-Key): same id', again.data?.id === firstId, `first=${firstId} second=${again.data?.id}`);

// ---- batch of two
const batch = await resend.batch.send([
  { from, to: 'one@example.test', subject: `Batch one ${run}`, text: 'One.' },
  { from, to: ['two@example.test'], cc: 'copy@example.test', subject: `Batch two ${run}`, html: '<p>Two.</p>' },
]);
succeeded('batch.send', batch);
const batchIds = batch.data?.data?.map((e) => e.id) ?? [];
check('batch.send: data.data has two ids', batchIds.length === 2 && batchIds.every((id) => typeof id === 'string' && id.length > 0),
  show(batch.data));

// ---- permissive batch: the valid email is accepted, the invalid one comes back as an error by index
const permissive = await resend.batch.send([
  { from, to: 'three@example.test', subject: `Batch three ${run}`, text: 'Three.' },
  { from, to: 'not an address', subject: `Batch four ${run}`, text: 'Four.' },
], { batchValidation: 'permissive' });
succeeded('batch.send (permissive)', permissive);
check('batch.send (permissive): one id and an error for index 1',
  permissive.data?.data?.length === 1 && permissive.data?.errors?.length === 1 && permissive.data.errors[0].index === 1
    && typeof permissive.data.errors[0].message === 'string',
  show(permissive.data));

// ---- read back the first email
if (firstId) {
  const got = await getUntil(firstId, (e) => e?.last_event != null);
  if (succeeded('emails.get', got)) {
    const e = got.data;
    check('emails.get: object is "email"', e.object === 'email', show(e.object));
    check('emails.get: id', e.id === firstId, show(e.id));
    check('emails.get: from', e.from === from, show(e.from));
    check('emails.get: to is an array', Array.isArray(e.to) && e.to.includes('you@example.test'), show(e.to));
    check('emails.get: subject', e.subject === message.subject, show(e.subject));
    check('emails.get: html', e.html === message.html, show(e.html));
    check('emails.get: text', e.text === message.text, show(e.text));
    check('emails.get: reply_to', Array.isArray(e.reply_to) && e.reply_to.includes('support@acme.test'), show(e.reply_to));
    check('emails.get: created_at is a date', typeof e.created_at === 'string' && !Number.isNaN(Date.parse(e.created_at)), show(e.created_at));
    check('emails.get: scheduled_at is null', e.scheduled_at === null, show(e.scheduled_at));
    check('emails.get: last_event is a Resend event', LAST_EVENTS.has(e.last_event), show(e.last_event));
  }
}

if (batchIds[1]) {
  const got = await getUntil(batchIds[1], (e) => e?.last_event != null);
  if (succeeded('emails.get (batch email)', got)) {
    check('emails.get (batch email): cc', Array.isArray(got.data.cc) && got.data.cc.includes('copy@example.test'), show(got.data.cc));
    check('emails.get (batch email): subject', got.data.subject === `Batch two ${run}`, show(got.data.subject));
  }
}

// ---- schedule one minute ahead, reschedule, cancel
const inOneMinute = new Date(Date.now() + 60_000).toISOString();
const scheduled = await resend.emails.send({ from, to: 'later@example.test', subject: `Scheduled ${run}`, text: 'Later.', scheduledAt: inOneMinute });
succeeded('emails.send (scheduledAt)', scheduled);
const scheduledId = scheduled.data?.id;

if (scheduledId) {
  const got = await getUntil(scheduledId, (e) => e?.last_event === 'scheduled');
  if (succeeded('emails.get (scheduled)', got)) {
    check('emails.get (scheduled): last_event is "scheduled"', got.data.last_event === 'scheduled', show(got.data.last_event));
    check('emails.get (scheduled): scheduled_at is set',
      typeof got.data.scheduled_at === 'string' && Math.abs(Date.parse(got.data.scheduled_at) - Date.parse(inOneMinute)) < 1000,
      show(got.data.scheduled_at));
  }

  const inTwoMinutes = new Date(Date.now() + 120_000).toISOString();
  const updated = await resend.emails.update({ id: scheduledId, scheduledAt: inTwoMinutes });
  if (succeeded('emails.update (reschedule)', updated)) {
    check('emails.update: object is "email" and id', updated.data.object === 'email' && updated.data.id === scheduledId, show(updated.data));
  }

  const rescheduled = await getUntil(scheduledId,
    (e) => typeof e?.scheduled_at === 'string' && Math.abs(Date.parse(e.scheduled_at) - Date.parse(inTwoMinutes)) < 1000);
  if (succeeded('emails.get (rescheduled)', rescheduled)) {
    check('emails.get (rescheduled): scheduled_at moved',
      Math.abs(Date.parse(rescheduled.data.scheduled_at) - Date.parse(inTwoMinutes)) < 1000, show(rescheduled.data.scheduled_at));
  }

  const canceled = await resend.emails.cancel(scheduledId);
  if (succeeded('emails.cancel', canceled)) {
    check('emails.cancel: object is "email" and id', canceled.data.object === 'email' && canceled.data.id === scheduledId, show(canceled.data));
  }

  const afterCancel = await getUntil(scheduledId, (e) => e?.last_event === 'canceled');
  if (succeeded('emails.get (canceled)', afterCancel)) {
    check('emails.get (canceled): last_event is "canceled"', afterCancel.data.last_event === 'canceled', show(afterCancel.data.last_event));
  }
}

// ---- errors reach the caller as {name, message, statusCode}
const stranger = new Resend(`ep_${randomUUID().replaceAll('-', '')}`);
const unknownKey = await stranger.emails.send({ from, to: 'you@example.test', subject: 'Hi', text: 'Hi.' });
check('unknown API key: data is null', unknownKey.data === null, show(unknownKey.data));
check('unknown API key: error.name is "invalid_api_key"', unknownKey.error?.name === 'invalid_api_key', show(unknownKey.error));
check('unknown API key: error.message and statusCode', typeof unknownKey.error?.message === 'string' && [401, 403].includes(unknownKey.error?.statusCode),
  show(unknownKey.error));

const invalid = await resend.emails.send({ from, to: 'not an address', subject: 'Hi', text: 'Hi.' });
check('invalid recipient: data is null', invalid.data === null, show(invalid.data));
check('invalid recipient: error.name is validation_error or missing_required_field',
  ['validation_error', 'missing_required_field'].includes(invalid.error?.name), show(invalid.error));
check('invalid recipient: error.statusCode is 4xx', invalid.error?.statusCode >= 400 && invalid.error?.statusCode < 500, show(invalid.error));

const missing = await resend.emails.send({ from, to: 'you@example.test', text: 'No subject.' });
check('missing subject: error.name is validation_error or missing_required_field',
  ['validation_error', 'missing_required_field'].includes(missing.error?.name), show(missing.error));

const unknownEmail = await resend.emails.get(randomUUID());
check('unknown email id: error.name is "not_found"', unknownEmail.error?.name === 'not_found' && unknownEmail.error?.statusCode === 404,
  show(unknownEmail.error));

console.log(failures === 0 ? 'resend-compat: all checks passed' : `resend-compat: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
