"""Translate template.yaml with the AWS SAM translator, offline, and write the
CloudFormation template that SAM would deploy, so cfn-lint can check the
generated resources against their CloudFormation schemas (the SAM-level lint
does not see, e.g., the limits of AWS::Lambda::EventInvokeConfig).

usage: sam_translate.py TEMPLATE OUTPUT.json

Local CodeUri and DefinitionUri values are replaced by S3 placeholders (what
`sam package` does), and the managed policies SAM attaches by name are given
their ARNs here, so that no AWS call is made.
"""

import json
import os
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

# SAM resolves AWS managed policy names to ARNs; these are the ones it adds.
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}


class OfflinePolicyLoader:
    def load(self):
        return MANAGED_POLICIES


def main(source: str, target: str) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-west-2")
    template, matches = decode(source)
    if matches:
        for m in matches:
            print(m, file=sys.stderr)
        return 1
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://placeholder-bucket/code.zip"
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = {"Bucket": "placeholder-bucket", "Key": props["DefinitionUri"]}
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    output = transform(json.loads(json.dumps(template)), {}, OfflinePolicyLoader())
    with open(target, "w") as f:
        json.dump(output, f, indent=1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
