"""The stack's Outputs as CloudFormation would render them, for the tests
that run each printed command as an operator would.

    python tests/e2e/stack_outputs.py template.yaml '{"AWS::Region": "us-west-2", "FailoverFunction": "failover", ...}'

The JSON names what CloudFormation would know after a deploy: pseudo
parameters, resource names (Ref) and attributes ("Resource.Attribute" for
GetAtt); parameters not named take their template defaults. Prints
{"outputs": {"OutputKey": "value", ...}, "parameters": {...}}; an output that names anything unknown is an
error, so that a test never runs a half-rendered command. An output with a
Condition that is false for those parameters is left out, as CloudFormation
leaves it out (e.g. the Region switch outputs, with RegionSwitchPlan none).
"""

import json
import re
import sys

import yaml


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {("Ref" if name == "Ref" else "Fn::" + name): value}

    return construct


for _name in ["Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Not", "Equals",
              "And", "Or", "Condition", "FindInMap", "Base64", "Cidr", "ImportValue",
              "GetAZs", "Transform", "Contains", "EachMemberEquals", "EachMemberIn",
              "ValueOf", "ValueOfAll", "RefAll"]:
    CfnLoader.add_constructor("!" + _name, _tag(_name))


def resolve(value, names):
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return lookup(value["Ref"], names)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return lookup(f"{resource}.{attribute}", names)
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        scope = dict(names)
        scope.update({k: resolve(v, names) for k, v in local.items()})
        return re.sub(r"\$\{([^}!]+)\}", lambda m: lookup(m.group(1), scope), text)
    raise ValueError(f"cannot render {value!r}")


def lookup(name, names):
    if name not in names:
        raise KeyError(name)
    return str(names[name])


def holds(condition, conditions, names):
    """Whether a condition of the template is true for these names.
    Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition, over what resolve()
    renders; anything else is an error rather than a guess."""
    if isinstance(condition, str):
        return holds(conditions[condition], conditions, names)
    if isinstance(condition, dict) and len(condition) == 1:
        (fn, args), = condition.items()
        if fn == "Condition":
            return holds(conditions[args], conditions, names)
        if fn == "Fn::Equals":
            left, right = (resolve(a, names) if isinstance(a, (str, dict)) else str(a) for a in args)
            return left == right
        if fn == "Fn::Not":
            return not holds(args[0], conditions, names)
        if fn == "Fn::And":
            return all(holds(a, conditions, names) for a in args)
        if fn == "Fn::Or":
            return any(holds(a, conditions, names) for a in args)
    raise ValueError(f"cannot evaluate the condition {condition!r}")


def load(template_path, given):
    """The template, the names (parameter defaults, then what is given) and
    its conditions."""
    with open(template_path, encoding="utf-8") as f:
        template = yaml.load(f, Loader=CfnLoader)
    names = {k: p.get("Default") for k, p in template.get("Parameters", {}).items()
             if "Default" in p}
    names.update(given)
    return template, names, template.get("Conditions", {})


def main():
    template, names, conditions = load(sys.argv[1], json.loads(sys.argv[2]))
    outputs, unknown = {}, {}
    for key, output in template.get("Outputs", {}).items():
        if "Condition" in output and not holds(output["Condition"], conditions, names):
            continue
        try:
            outputs[key] = resolve(output["Value"], names)
        except KeyError as missing:
            unknown[key] = str(missing)
    if unknown:
        sys.exit(f"outputs name what the test did not give: {json.dumps(unknown)}")
    print(json.dumps({"outputs": outputs, "parameters": names}))


if __name__ == "__main__":
    main()
