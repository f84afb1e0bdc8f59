"""Hand-made definitions in the real SDK shape and the tiny job scripts they run."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import textwrap
from typing import Any

from pipeline.core.records import PipelineDefinition

BUCKET = "bkt"
PREP_URI = f"s3://{BUCKET}/code/prep.py"
EVAL_URI = f"s3://{BUCKET}/code/eval.py"
SOURCE_URI = f"s3://{BUCKET}/code/sourcedir.tar.gz"
ROLE = "arn:aws:iam::000000000000:role/local-tests"
# Members SageMaker requires of every request (the API gate checks them like the service).
PROCESSING_RESOURCES = {
    "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
}

PREP = """
import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--out"); p.add_argument("--rows", type=int)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, "train.csv"), "w").write("1,0.5\\n" * a.rows)
print("prepared", a.rows)
"""
TRAIN = """
import json, os, sys
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")).read().splitlines()
for epoch in (1, 2):
    print(f"epoch={epoch} train_loss={1.0 / epoch}", flush=True)
model_dir = os.environ["SM_MODEL_DIR"]
json.dump({"argv": sys.argv[1:], "rows": len(rows), "cwd": os.getcwd()},
          open(os.path.join(model_dir, "seen.json"), "w"))
"""
EVAL = """
import json, os, tarfile
with tarfile.open(os.path.join(os.environ["JOB"], "processing/model/model.tar.gz")) as t:
    seen = json.load(t.extractfile("seen.json"))
out = os.path.join(os.environ["JOB"], "processing", "evaluation")
os.makedirs(out, exist_ok=True)
report = {"binary_classification_metrics": {"accuracy": {"value": float(os.environ["ACC"])},
          "auc": {"value": 0.5}, "confusion_matrix": {"0": {"0": 1}}}, "rows": seen["rows"],
          "approval": os.environ.get("APPROVAL", "Approved")}
json.dump(report, open(os.path.join(out, "evaluation.json"), "w"))
"""

PREP_TRAIN_URI = "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"


def _output_uri(step: str, output: str) -> dict[str, Any]:
    return {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                BUCKET,
                "p",
                {"Get": "Execution.PipelineExecutionId"},
                step,
                "output",
                output,
            ],
        }
    }


def _code_input(uri: str) -> dict[str, Any]:
    return {
        "InputName": "code",
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def prep_step() -> dict[str, Any]:
    return {
        "Name": "Prep",
        "Type": "Processing",
        "Arguments": {
            "RoleArn": ROLE,
            "ProcessingResources": PROCESSING_RESOURCES,
            "AppSpecification": {
                "ImageUri": "img",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/prep.py"],
                "ContainerArguments": [
                    "--out",
                    "/opt/ml/processing/train",
                    "--rows",
                    {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Rows"}]}},
                ],
            },
            "ProcessingInputs": [_code_input(PREP_URI)],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "train",
                        "S3Output": {
                            "S3Uri": _output_uri("Prep", "train"),
                            "LocalPath": "/opt/ml/processing/train",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
        "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"},
    }


def train_step() -> dict[str, Any]:
    return {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "RoleArn": ROLE,
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "AlgorithmSpecification": {
                "TrainingImage": "img",
                "TrainingInputMode": "File",
                "MetricDefinitions": [LOSS_METRIC],
            },
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/"},
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": {"Get": PREP_TRAIN_URI},
                        }
                    },
                }
            ],
            "HyperParameters": {
                "hidden_dim": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.HiddenDim"}]}},
                "lr": "0.01",
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(SOURCE_URI),
            },
        },
        "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"},
    }


def eval_step() -> dict[str, Any]:
    return {
        "Name": "Eval",
        "Type": "Processing",
        "Arguments": {
            "RoleArn": ROLE,
            "ProcessingResources": PROCESSING_RESOURCES,
            "AppSpecification": {
                "ImageUri": "img",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/eval.py"],
            },
            "Environment": {
                "JOB": "/opt/ml",
                "ACC": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Accuracy"}]}},
            },
            "ProcessingInputs": [
                {
                    "InputName": "model",
                    "S3Input": {
                        "S3Uri": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                        "LocalPath": "/opt/ml/processing/model",
                        "S3DataType": "S3Prefix",
                    },
                },
                _code_input(EVAL_URI),
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "evaluation",
                        "S3Output": {
                            "S3Uri": _output_uri("Eval", "evaluation"),
                            "LocalPath": "/opt/ml/processing/evaluation",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
        "PropertyFiles": [
            {
                "PropertyFileName": "Report",
                "OutputName": "evaluation",
                "FilePath": "evaluation.json",
            }
        ],
    }


LOSS_METRIC = {"Name": "train:loss", "Regex": "train_loss=([0-9.eE+-]+)"}
ACCURACY = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
        "Path": "binary_classification_metrics.accuracy.value",
    }
}


def hosting_steps() -> list[dict[str, Any]]:
    model_data = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    report = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.Eval.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                "evaluation.json",
            ],
        }
    }
    return [
        {
            "Name": "Reg-RegisterModel",
            "Type": "RegisterModel",
            "Arguments": {
                "ModelPackageGroupName": "grp",
                "ModelApprovalStatus": "Approved",
                "ModelMetrics": {
                    "ModelQuality": {
                        "Statistics": {"ContentType": "application/json", "S3Uri": report}
                    }
                },
                "InferenceSpecification": {
                    "Containers": [{"Image": "inf", "ModelDataUrl": model_data}]
                },
            },
        },
        {
            "Name": "Cre-CreateModel",
            "Type": "Model",
            "Arguments": {
                "PrimaryContainer": {
                    "Image": "inf",
                    "ModelDataUrl": model_data,
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                }
            },
        },
        {
            "Name": "Cfg",
            "Type": "EndpointConfig",
            "Arguments": {
                "EndpointConfigName": "cfg",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": {"Get": "Steps.Cre-CreateModel.ModelName"},
                    }
                ],
            },
        },
        {
            "Name": "Deploy",
            "Type": "Endpoint",
            "Arguments": {
                "EndpointName": {"Get": "Parameters.EndpointName"},
                "EndpointConfigName": {"Get": "Steps.Cfg.EndpointConfigName"},
            },
        },
    ]


def full_definition() -> dict[str, Any]:
    fail = {
        "Name": "TooLow",
        "Type": "Fail",
        "Arguments": {
            "ErrorMessage": {
                "Std:Join": {
                    "On": " ",
                    "Values": ["accuracy", ACCURACY, "below", {"Get": "Parameters.Threshold"}],
                }
            }
        },
    }
    check = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": ACCURACY,
                    "RightValue": {"Get": "Parameters.Threshold"},
                }
            ],
            "IfSteps": hosting_steps(),
            "ElseSteps": [fail],
        },
    }
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "HiddenDim", "Type": "Integer", "DefaultValue": 20},
            {"Name": "Rows", "Type": "Integer", "DefaultValue": 3},
            {"Name": "Accuracy", "Type": "Float", "DefaultValue": 0.9},
            {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
            {"Name": "EndpointName", "Type": "String", "DefaultValue": "ep"},
        ],
        "Steps": [prep_step(), train_step(), eval_step(), check],
    }


def source_tarball(script: str = TRAIN) -> bytes:
    """sourcedir.tar.gz holding ``script`` as train.py; the same bytes on every call: the gzip
    header's time is fixed (the store is write-once, so two upserts of "the same" tarball
    with different bytes would be refused)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w") as tar,
    ):
        data = textwrap.dedent(script).encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def artifacts() -> dict[str, bytes]:
    return {
        PREP_URI: textwrap.dedent(PREP).encode(),
        EVAL_URI: textwrap.dedent(EVAL).encode(),
        SOURCE_URI: source_tarball(),
    }


def pipeline(definition: dict[str, Any] | None = None, name: str = "p") -> PipelineDefinition:
    return PipelineDefinition(
        name, "test pipeline", json.dumps(definition or full_definition()), artifacts()
    )
