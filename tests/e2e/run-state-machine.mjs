// Runs a state machine definition under aws-local-stepfunctions, with every
// Lambda task invoking the real function binaries through a Lambda Invoke API
// (the project's harness), SNS publishes recorded, task-token approvals
// answered by an external party or with APPROVAL_OUTPUT, and Wait states
// either advancing an emulator's clock or shortened to WAIT_MS.
//
//   node tests/e2e/run-state-machine.mjs DEFINITION.asl.json INPUT_JSON LAMBDA_URL SUBSTITUTIONS_JSON
//
// Environment:
//   WAIT_MS          each Wait state sleeps this long instead (default 20), unless ADVANCE_URL is set.
//   ADVANCE_URL      an emulator's control base URL: each Wait state POSTs {"advance_seconds": S}
//                    to ${ADVANCE_URL}/clock (S: its Seconds, or the value at its SecondsPath)
//                    and goes on at once.
//   TASK_TOKEN_URL   each .waitForTaskToken task POSTs {"state", "token", "message", "subject",
//                    "execution"} here and waits for the answer: {"output": JSON} succeeds the task
//                    with that output, {"error": NAME, "cause": TEXT} fails it with that error (a
//                    Catch on "Rejected" sees a rejection). The token is unique per task and is the
//                    one printed in the message.
//   APPROVAL_OUTPUT  without TASK_TOKEN_URL, the output every .waitForTaskToken task returns (default {}).
//   EXECUTION_ARN    the Context Object's Execution.Id (its last segment is Execution.Name, its
//                    Region the default of the Region substitution).
//   EVENTS_URL       each history event AWS Step Functions would record for a state is POSTed
//                    here as it happens, in order: {"execution", "event": {"type", details}} in
//                    the GetExecutionHistory shapes (TaskStateEntered with stateEnteredEventDetails,
//                    TaskScheduled/TaskSucceeded/TaskFailed of Lambda and SNS tasks, TaskStateExited
//                    with stateExitedEventDetails.output, Wait/Pass/Choice/Succeed/Fail entered and
//                    exited), so that a Step Functions stand-in can serve the history live. A task
//                    token's TaskScheduled and its answer are the TASK_TOKEN_URL party's to record;
//                    Execution* events too. The result line comes after the last event is delivered.
//
// The last line on stdout is the result:
//   {"status": "SUCCEEDED"|"FAILED", "output"|"error", "published": [...],
//    "history": {"events": N, "max_child_events": N, "child_executions": N}}
// where history counts the events AWS Step Functions would record (see countHistory).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';

// aws-local-stepfunctions 3 uses Promise.withResolvers, which Node 20 lacks.
if (!Promise.withResolvers) {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const { StateMachine } = await import('aws-local-stepfunctions');

const [definitionPath, inputJson, lambdaUrl, substitutionsJson] = process.argv.slice(2);
let text = fs.readFileSync(definitionPath, 'utf8');
const executionArn = process.env.EXECUTION_ARN || 'arn:aws:states:us-west-2:123456789012:execution:local:e2e';
const executionName = executionArn.split(':').pop();
// Region (the approval commands' --region) defaults to the execution's Region.
const substitutions = { Region: executionArn.split(':')[3], ...JSON.parse(substitutionsJson) };
for (const [key, value] of Object.entries(substitutions)) {
  text = text.replaceAll('${' + key + '}', value);
}
const definition = JSON.parse(text);
const approval = JSON.parse(process.env.APPROVAL_OUTPUT || '{}');
const waitMs = Number(process.env.WAIT_MS || '20');
const advanceUrl = process.env.ADVANCE_URL || '';
const taskTokenUrl = process.env.TASK_TOKEN_URL || '';
const eventsUrl = process.env.EVENTS_URL || '';
// What $$.Task.Token renders as; each waitForTaskToken task swaps it for a token of its own.
const TOKEN_PLACEHOLDER = 'local-task-token';
const published = [];
let tokens = 0;

// POST a JSON body and parse the JSON answer, with no client-side timeout
// (fetch gives up on headers after 300 s; a person's approval may take longer).
function postJson(url, body) {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const data = JSON.stringify(body);
    const request = client.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (response) => {
        let raw = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (raw += chunk));
        response.on('end', () => {
          if (response.statusCode < 200 || response.statusCode >= 300) {
            reject(new Error(`POST ${url}: HTTP ${response.statusCode}: ${raw}`));
            return;
          }
          try {
            resolve(raw ? JSON.parse(raw) : {});
          } catch (error) {
            reject(new Error(`POST ${url}: not JSON: ${raw}`));
          }
        });
      },
    );
    request.on('error', reject);
    request.end(data);
  });
}

// History events go out one at a time, in the order they happened: each POST
// waits for the one before it. A failed delivery is reported on stderr and does
// not stop the execution (the history is for watching, not for running).
let delivered = Promise.resolve();
function emit(event) {
  if (!eventsUrl) return delivered;
  delivered = delivered.then(() =>
    postJson(eventsUrl, { execution: executionArn, event }).catch((error) => {
      console.error(`history event ${event.type} not delivered: ${error.message}`);
    }),
  );
  return delivered;
}

// The interpreter logs a state's entry before it runs the state's task handler,
// but the log is read asynchronously: one macrotask later the entry has been
// read and queued, so a task's own events follow its TaskStateEntered.
function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

const lambdaResource = { resourceType: 'lambda', resource: 'invoke', region: executionArn.split(':')[3] };

async function invokeLambda(input) {
  await settle();
  emit({
    type: 'TaskScheduled',
    taskScheduledEventDetails: { ...lambdaResource, parameters: JSON.stringify(input) },
  });
  emit({ type: 'TaskStarted', taskStartedEventDetails: { resourceType: 'lambda', resource: 'invoke' } });
  let result;
  try {
    const name = String(input.FunctionName).split(':').pop();
    const response = await fetch(`${lambdaUrl}/2015-03-31/functions/${name}/invocations`, {
      method: 'POST',
      body: JSON.stringify(input.Payload),
    });
    const body = await response.json();
    if (response.headers.get('x-amz-function-error')) {
      const error = new Error(body.errorMessage || JSON.stringify(body));
      error.name = body.errorType || 'Lambda.Unknown';
      throw error;
    }
    result = { StatusCode: 200, Payload: body };
  } catch (error) {
    emit({
      type: 'TaskFailed',
      taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: error.name, cause: error.message },
    });
    throw error;
  }
  emit({
    type: 'TaskSucceeded',
    taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: JSON.stringify(result) },
  });
  return result;
}

function waitForToken(name) {
  return async (input) => {
    tokens += 1;
    const token = `${executionName}-${name}-${tokens}-${randomUUID()}`;
    const message = String(input.Message ?? '').replaceAll(TOKEN_PLACEHOLDER, token);
    published.push({ state: name, subject: input.Subject, message });
    if (!taskTokenUrl) return approval;
    // The token's TaskScheduled (the TASK_TOKEN_URL party records it) after the state's entry.
    await settle();
    await delivered;
    const answer = await postJson(taskTokenUrl, { state: name, token, message, subject: input.Subject, execution: executionArn });
    if (answer.error !== undefined && answer.error !== null) {
      const error = new Error(answer.cause ?? '');
      error.name = String(answer.error);
      throw error;
    }
    return answer.output ?? {};
  };
}

// The state type AWS would record for each state name (a Wait rewritten into a
// Task below still counts as a Wait), whether a Task waits for a task token,
// and whether a Map is distributed.
const kinds = {};
const taskHandlers = {};
const waitOverrides = {};
function collect(states) {
  for (const [name, state] of Object.entries(states)) {
    const inner = state.ItemProcessor || state.Iterator;
    kinds[name] = {
      type: state.Type,
      token: state.Type === 'Task' && String(state.Resource).endsWith('.waitForTaskToken'),
      distributed: state.Type === 'Map' && inner?.ProcessorConfig?.Mode === 'DISTRIBUTED',
    };
    if (state.Type === 'Task') {
      if (state.Resource === 'arn:aws:states:::lambda:invoke') {
        taskHandlers[name] = invokeLambda;
      } else if (kinds[name].token) {
        taskHandlers[name] = waitForToken(name);
      } else {
        taskHandlers[name] = async (input) => {
          await settle();
          const details = { resourceType: 'sns', resource: 'publish' };
          emit({ type: 'TaskScheduled', taskScheduledEventDetails: { ...details, region: lambdaResource.region, parameters: JSON.stringify(input) } });
          published.push({ state: name, subject: input.Subject, message: input.Message });
          const output = { MessageId: `local-${published.length}` };
          emit({ type: 'TaskSucceeded', taskSucceededEventDetails: { ...details, output: JSON.stringify(output) } });
          return output;
        };
      }
    }
    if (state.Type === 'Wait') {
      if (advanceUrl && (state.Seconds !== undefined || state.SecondsPath !== undefined)) {
        // The same transition, its duration handed to the emulator's clock.
        const task = {
          Type: 'Task',
          Resource: 'arn:aws:lambda:us-west-2:123456789012:function:advance-clock',
          Parameters: state.SecondsPath !== undefined ? { 'seconds.$': state.SecondsPath } : { seconds: state.Seconds },
          ResultPath: null,
        };
        for (const key of ['InputPath', 'OutputPath', 'Next', 'End']) {
          if (state[key] !== undefined) task[key] = state[key];
        }
        states[name] = task;
        taskHandlers[name] = async (input) => {
          await postJson(`${advanceUrl}/clock`, { advance_seconds: input.seconds });
          return {};
        };
      } else {
        waitOverrides[name] = waitMs;
      }
    }
    if (inner) collect(inner.States);
    for (const branch of state.Branches || []) collect(branch.States);
  }
}
collect(definition.States);

// The number of history events each execution would have in AWS Step Functions,
// from the interpreter's event log. What it relies on (AWS Step Functions
// Developer Guide and API Reference):
// - A Standard workflow's execution history holds at most 25,000 events
//   ("Service quotas": execution history size); past that the execution fails.
// - The event types (API HistoryEvent): ExecutionStarted, ExecutionSucceeded|Failed;
//   a Task: TaskStateEntered, TaskScheduled, TaskStarted, (TaskSubmitted for
//   .waitForTaskToken), TaskSucceeded|TaskFailed|TaskTimedOut, TaskStateExited, each
//   retry another TaskScheduled, TaskStarted (TaskSubmitted) after the TaskFailed;
//   Pass, Choice, Wait, Succeed: <Type>StateEntered and <Type>StateExited; Fail:
//   FailStateEntered only (then ExecutionFailed); an inline Map: MapStateEntered,
//   MapStateStarted, per iteration MapIterationStarted and MapIterationSucceeded|Failed
//   with the iteration's state events in between, MapStateSucceeded|Failed, MapStateExited.
// - A Distributed Map ("Using Map state in Distributed mode"): the parent records
//   MapStateEntered, MapRunStarted, MapRunSucceeded|Failed, MapStateExited; every item
//   runs as a child workflow execution with its own execution history
//   (ExecutionStarted, its state events, ExecutionSucceeded|Failed).
// Nested Map states inside a Distributed Map are not told apart (none here).
function countHistory() {
  const parent = { events: 0 };
  const children = new Map();
  let mapRun = 0;
  let distributed = null;
  const failedLast = new Set();
  const child = (index) => {
    const key = `${mapRun}:${index}`;
    if (!children.has(key)) children.set(key, { events: 0 });
    return children.get(key);
  };
  const target = (event) => (distributed && event.index !== undefined ? child(event.index) : parent);
  const add = (event) => {
    const name = event.state?.name;
    const kind = kinds[name] || { type: event.state?.type };
    const type = kind.type;
    const at = target(event);
    const key = `${event.index ?? ''}/${name}`;
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionTerminated':
        parent.events += 1;
        break;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        // Inline: MapIteration* in the parent. Distributed: the child's ExecutionStarted/Succeeded/Failed.
        (kinds[event.parentState?.name]?.distributed ? child(event.index) : parent).events += 1;
        break;
      case 'StateEntered':
        failedLast.delete(key);
        if (type === 'Task') at.events += kind.token ? 4 : 3;
        else if (type === 'Map') {
          at.events += 2;
          if (kind.distributed) {
            mapRun += 1;
            distributed = name;
          }
        } else at.events += 1;
        break;
      case 'StateFailed':
        failedLast.add(key);
        if (type === 'Task' || type === 'Map') at.events += 1;
        if (type === 'Map' && name === distributed) distributed = null;
        break;
      case 'StateRetried':
        failedLast.delete(key);
        if (type === 'Task') at.events += kind.token ? 3 : 2;
        else if (type === 'Map') at.events += 1;
        break;
      case 'StateExited':
        if (type === 'Task' || type === 'Map') at.events += failedLast.has(key) ? 1 : 2;
        else at.events += 1;
        failedLast.delete(key);
        if (type === 'Map' && name === distributed) distributed = null;
        break;
      default:
        break;
    }
  };
  const result = () => ({
    events: parent.events,
    max_child_events: Math.max(0, ...[...children.values()].map((c) => c.events)),
    child_executions: children.size,
  });
  return { add, result };
}

const machine = new StateMachine(definition, { validationOptions: { checkPaths: false } });
const input = JSON.parse(inputJson);
const execution = machine.run(input, {
  overrides: { taskResourceLocalHandlers: taskHandlers, waitTimeOverrides: waitOverrides },
  // The Context Object as Step Functions fills it; the task token is replaced per task (waitForToken).
  context: {
    Execution: { Id: executionArn, Input: input, Name: executionName, StartTime: new Date().toISOString() },
    StateMachine: { Id: 'arn:aws:states:us-west-2:123456789012:stateMachine:local', Name: 'local' },
    Task: { Token: TOKEN_PLACEHOLDER },
    // The interpreter does not fill $$.State; EnteredTime reads the wall clock when a state asks for it.
    State: {
      get EnteredTime() {
        return new Date().toISOString();
      },
      Name: '',
      RetryCount: 0,
    },
  },
});
// One interpreter event as the history events AWS records for it (see the
// countHistory notes for the types); a Wait rewritten into a Task is still a Wait.
function historyEvents(event) {
  const name = event.state?.name;
  const type = kinds[name]?.type || event.state?.type;
  if (!name || !type) return [];
  switch (event.type) {
    case 'StateEntered':
      return [{
        type: `${type}StateEntered`,
        stateEnteredEventDetails: { name, input: JSON.stringify(event.state.input ?? null) },
      }];
    case 'StateExited':
      return [{
        type: `${type}StateExited`,
        stateExitedEventDetails: { name, output: JSON.stringify(event.state.output ?? null) },
      }];
    default:
      // Failures, retries and catches of a task are its TaskFailed and the next state's entry.
      return [];
  }
}

const history = countHistory();
const logged = (async () => {
  for await (const event of execution.eventLogs) {
    history.add(event);
    // Map iterations (index set) are not part of the parent's history in this form.
    if (event.index === undefined) for (const e of historyEvents(event)) emit(e);
  }
})();
let result;
try {
  const output = await execution.result;
  result = { status: 'SUCCEEDED', output, published };
} catch (error) {
  result = { status: 'FAILED', error: `${error.name}: ${error.message}`, published };
}
await logged;
await delivered;
result.history = history.result();
console.log(JSON.stringify(result));
