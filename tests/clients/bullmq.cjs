// BullMQ against a server: its Lua scripts (addStandardJob, moveToActive,
// moveToFinished, retryJob, promote delayed…) must run as in Redis. Adds
// jobs, processes them with a Worker, fails one job once so it is retried,
// adds a delayed job, then checks every job's outcome and the completed
// count. Exits 0 on success; any failure or timeout exits non-zero.
//
// Usage: node bullmq.cjs --port N
"use strict";

const { Queue, Worker, QueueEvents } = require("bullmq");

const args = process.argv.slice(2);
const port = Number(args[args.indexOf("--port") + 1]);
const connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null };

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function main() {
  const name = `ferrokv-test-${process.pid}`;
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();

  const seen = [];
  let flakyRuns = 0;
  const worker = new Worker(
    name,
    async (job) => {
      seen.push(job.name);
      if (job.name === "flaky") {
        flakyRuns += 1;
        if (job.attemptsMade === 0) throw new Error("first attempt fails");
      }
      if (job.name === "boom") throw new Error("always fails");
      return { doubled: job.data.n * 2 };
    },
    { connection, concurrency: 2 },
  );

  const finished = (job) => job.waitUntilFinished(events, 20000);

  const plain = [];
  for (let n = 1; n <= 5; n++) plain.push(await queue.add("plain", { n }));
  const flaky = await queue.add("flaky", { n: 10 }, { attempts: 3, backoff: { type: "fixed", delay: 50 } });
  const boom = await queue.add("boom", { n: 0 }, { attempts: 2 });
  const addedAt = Date.now();
  const delayed = await queue.add("delayed", { n: 7 }, { delay: 700 });
  check((await delayed.getState()) === "delayed", "delayed job starts delayed");

  for (const [i, job] of plain.entries()) {
    const result = await finished(job);
    check(result.doubled === (i + 1) * 2, `plain job ${i + 1} result ${JSON.stringify(result)}`);
  }
  const flakyResult = await finished(flaky);
  check(flakyResult.doubled === 20, "flaky job result after retry");
  check(flakyRuns === 2, `flaky job ran twice (ran ${flakyRuns})`);
  const flakyJob = await queue.getJob(flaky.id);
  check(flakyJob.attemptsMade === 2, `flaky attemptsMade ${flakyJob.attemptsMade}`);

  let boomError = null;
  try {
    await finished(boom);
  } catch (e) {
    boomError = e.message;
  }
  check(boomError === "always fails", `boom job fails for good (${boomError})`);
  const boomJob = await queue.getJob(boom.id);
  check(boomJob.attemptsMade === 2, `boom attemptsMade ${boomJob.attemptsMade}`);
  check((await boomJob.getState()) === "failed", "boom job state failed");

  const delayedResult = await finished(delayed);
  check(delayedResult.doubled === 14, "delayed job result");
  check(Date.now() - addedAt >= 650, "delayed job waited for its delay");

  const counts = await queue.getJobCounts("completed", "failed", "delayed", "wait", "active");
  check(counts.completed === 7, `completed count ${JSON.stringify(counts)}`);
  check(counts.failed === 1, `failed count ${JSON.stringify(counts)}`);
  check(counts.delayed === 0 && counts.wait === 0 && counts.active === 0, `nothing left ${JSON.stringify(counts)}`);
  check((await queue.getCompletedCount()) === 7, "getCompletedCount");
  check(seen.filter((n) => n === "plain").length === 5, "five plain runs");

  await worker.close();
  await queue.obliterate({ force: true });
  await events.close();
  await queue.close();
  console.log(`bullmq ok: ${JSON.stringify(counts)}`);
}

const timer = setTimeout(() => {
  console.error("bullmq program timed out");
  process.exit(2);
}, 45000);

main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
