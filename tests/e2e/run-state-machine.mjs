// Runs a state machine definition under aws-local-stepfunctions, with every
// Lambda task invoking the real function binaries through a Lambda Invoke API
// (the project's harness), SNS publishes recorded, task-token approvals
// answered with APPROVAL_OUTPUT, and Wait states shortened to WAIT_MS.
//
//   node tests/e2e/run-state-machine.mjs DEFINITION.asl.json INPUT_JSON LAMBDA_URL SUBSTITUTIONS_JSON
// Prints {"status": "SUCCEEDED"|"FAILED", "output"|"error", "published": [...]} on stdout.
import fs from 'node:fs';

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
for (const [key, value] of Object.entries(JSON.parse(substitutionsJson))) {
  text = text.replaceAll('${' + key + '}', value);
}
const definition = JSON.parse(text);
const approval = JSON.parse(process.env.APPROVAL_OUTPUT || '{}');
const waitMs = Number(process.env.WAIT_MS || '20');
const published = [];

async function invokeLambda(input) {
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
  return { StatusCode: 200, Payload: body };
}

const taskHandlers = {};
const waitOverrides = {};
function collect(states) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') {
      if (state.Resource === 'arn:aws:states:::lambda:invoke') {
        taskHandlers[name] = invokeLambda;
      } else if (state.Resource.endsWith('waitForTaskToken')) {
        taskHandlers[name] = async (input) => {
          published.push({ state: name, message: input.Message });
          return approval;
        };
      } else {
        taskHandlers[name] = async (input) => {
          published.push({ state: name, subject: input.Subject, message: input.Message });
          return { MessageId: `local-${published.length}` };
        };
      }
    }
    if (state.Type === 'Wait') {
      waitOverrides[name] = waitMs;
    }
    const inner = state.ItemProcessor || state.Iterator;
    if (inner) collect(inner.States);
    for (const branch of state.Branches || []) collect(branch.States);
  }
}
collect(definition.States);

const machine = new StateMachine(definition, { validationOptions: { checkPaths: false } });
const input = JSON.parse(inputJson);
const execution = machine.run(input, {
  overrides: { taskResourceLocalHandlers: taskHandlers, waitTimeOverrides: waitOverrides },
  // The Context Object as Step Functions fills it, with a task token for approvals.
  context: {
    Execution: { Id: 'arn:aws:states:us-west-2:123456789012:execution:local:e2e', Input: input, Name: 'e2e', StartTime: new Date().toISOString() },
    StateMachine: { Id: 'arn:aws:states:us-west-2:123456789012:stateMachine:local', Name: 'local' },
    Task: { Token: 'local-task-token' },
  },
});
try {
  const output = await execution.result;
  console.log(JSON.stringify({ status: 'SUCCEEDED', output, published }));
} catch (error) {
  console.log(JSON.stringify({ status: 'FAILED', error: `${error.name}: ${error.message}`, published }));
}
