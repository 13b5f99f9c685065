"""The template's ARC Region switch plan as a CreatePlan request, for the
tests that create it in the emulator and play Region switch over it.

    python tests/e2e/region_switch_plan.py template.yaml '{"AWS::Region": "us-west-2", ...}'

Names as for stack_outputs.py (pseudo parameters, parameters, "Resource.Attr"
for GetAtt); parameters not named take their defaults. Prints the JSON for
`aws arc-region-switch create-plan --cli-input-json`: the resource's
properties with the API's member names (first letter lower case) and the
numbers the API wants. Tags and DependsOn are CloudFormation's, left out.
"""

import json
import sys

from stack_outputs import holds, load, resolve

NUMBERS = {"retryIntervalMinutes": float, "timeoutMinutes": int,
           "recoveryTimeObjectiveMinutes": int}


def render(value, names, conditions):
    if isinstance(value, dict) and "Fn::If" in value:
        condition, yes, no = value["Fn::If"]
        return render(yes if holds(condition, conditions, names) else no, names, conditions)
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Sub"):
        return resolve(value, names)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k[0].lower() + k[1:]
            v = render(v, names, conditions)
            out[key] = NUMBERS[key](v) if key in NUMBERS else v
        return out
    if isinstance(value, list):
        return [render(v, names, conditions) for v in value]
    return value


def main():
    template, names, conditions = load(sys.argv[1], json.loads(sys.argv[2]))
    plans = [(k, r) for k, r in template["Resources"].items()
             if r["Type"] == "AWS::ARCRegionSwitch::Plan"]
    if len(plans) != 1:
        sys.exit(f"expected one AWS::ARCRegionSwitch::Plan, found {len(plans)}")
    key, plan = plans[0]
    if "Condition" in plan and not holds(plan["Condition"], conditions, names):
        sys.exit(f"{key}: its condition {plan['Condition']} is false for these parameters")
    props = dict(plan["Properties"])
    props.pop("Tags", None)
    print(json.dumps(render(props, names, conditions)))


if __name__ == "__main__":
    main()
