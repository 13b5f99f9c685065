"""Write a variant of a template for the checks: some parameters' defaults
changed, so that the branches a parameter switches on (resources, outputs,
policy statements under a Condition that is false with the defaults) are
linted too.

usage: variant.py TEMPLATE OUTPUT.json [NAME=VALUE | --resolve RESOURCE.PROPERTY]...

NAME=VALUE sets parameter NAME's default. A NAME that is not a parameter, or
a VALUE outside its AllowedValues, is an error: the variant must be a
template CloudFormation would accept with those values.

--resolve RESOURCE.PROPERTY replaces, inside that property, every Ref to a
parameter by its default (a number for a Number parameter), every Ref to a
pseudo parameter by a sample value, and every GetAtt of an ARN by a sample
ARN. cfn-lint (1.58) does not report a wrong value under a oneOf schema
(e.g. an ARC Region switch plan's ExecutionBlockConfiguration: a misspelt
RegionToRun) when the same object also holds a Ref or a GetAtt; resolved,
the object is checked against its schema. The template itself is linted
as it is, which checks that the references exist.

The variant is JSON: cfn-lint's decoding of the template, intrinsic
functions in their long form.
"""

import json
import sys

from cfnlint.decode import decode

ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::Region": "us-west-2",
    "AWS::StackName": "efs-dr",
    "AWS::URLSuffix": "amazonaws.com",
}
SAMPLE_ARNS = {
    "AWS::Serverless::Function": "arn:aws:lambda:us-west-2:{account}:function:{id}",
    "AWS::Lambda::Function": "arn:aws:lambda:us-west-2:{account}:function:{id}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
}


class Unresolvable(Exception):
    pass


def typed_default(name, parameter):
    if "Default" not in parameter:
        raise Unresolvable(f"Ref {name}: the parameter has no default (give it one: {name}=VALUE)")
    value = parameter["Default"]
    if parameter.get("Type") == "Number":
        number = float(value)
        return int(number) if number.is_integer() else number
    if parameter.get("Type") == "CommaDelimitedList":
        return str(value).split(",")
    return value


def resolve(node, template):
    if isinstance(node, list):
        return [resolve(v, template) for v in node]
    if not isinstance(node, dict):
        return node
    if list(node) == ["Ref"]:
        name = node["Ref"]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in template.get("Parameters", {}):
            return typed_default(name, template["Parameters"][name])
        raise Unresolvable(f"Ref {name}: not a parameter (a resource's Ref has no sample value)")
    if list(node) == ["Fn::GetAtt"]:
        resource, attribute = node["Fn::GetAtt"]
        kind = template.get("Resources", {}).get(resource, {}).get("Type")
        if attribute != "Arn" or kind not in SAMPLE_ARNS:
            raise Unresolvable(f"GetAtt {resource}.{attribute}: no sample value for a {kind}")
        return SAMPLE_ARNS[kind].format(account=ACCOUNT, id=resource)
    return {k: resolve(v, template) for k, v in node.items()}


def main(source, target, args):
    template, matches = decode(source)
    if matches:
        for m in matches:
            print(m, file=sys.stderr)
        return 1
    template = json.loads(json.dumps(template))
    parameters = template.get("Parameters", {})
    to_resolve = []
    while args:
        arg, args = args[0], args[1:]
        if arg == "--resolve":
            if not args:
                print("--resolve needs RESOURCE.PROPERTY", file=sys.stderr)
                return 2
            to_resolve.append(args[0])
            args = args[1:]
            continue
        name, sep, value = arg.partition("=")
        if not sep or name not in parameters:
            print(f"{arg!r}: not NAME=VALUE with NAME a parameter of {source}", file=sys.stderr)
            return 2
        allowed = parameters[name].get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            print(f"{name}={value!r}: not one of its AllowedValues {list(allowed)}", file=sys.stderr)
            return 2
        parameters[name]["Default"] = value
    for path in to_resolve:
        resource, _, prop = path.partition(".")
        props = template.get("Resources", {}).get(resource, {}).get("Properties", {})
        if prop not in props:
            print(f"--resolve {path}: no such resource property in {source}", file=sys.stderr)
            return 2
        try:
            props[prop] = resolve(props[prop], template)
        except Unresolvable as e:
            print(f"--resolve {path}: {e}", file=sys.stderr)
            return 2
    with open(target, "w") as f:
        json.dump(template, f, indent=1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
