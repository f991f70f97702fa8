# The deployment package, from one of four sources: a prebuilt zip (lambda_zip_path), an S3 object
# (lambda_s3_bucket / lambda_s3_key), a container image (lambda_image_uri), or built here during
# apply (build_lambda_package) the way the fivexl module built its own.
#
# The build runs scripts/build_lambda_zip.py from this module's checkout: ctrules from the source
# tree the module's `?ref=` pins, its dependencies pip-installed as manylinux wheels for the
# function's runtime and architecture (so it works from macOS and in CI without Docker), boto3 left
# to the Lambda runtime. The zip's name carries a hash of every input, so an input change means a
# new file name, which the AWS provider deploys as new code; an unchanged module builds nothing,
# and a fresh CI checkout without the zip plans no change (the file is only read when it changed).

locals {
  repo_root     = "${path.module}/../.."
  build_package = var.build_lambda_package

  package_inputs = local.build_package ? sort(distinct(concat(
    tolist(fileset(local.repo_root, "ctrules/**/*.py")),
    tolist(fileset(local.repo_root, "ctrules/data/*")),
    tolist(fileset(local.repo_root, "grammar/*.lark")),
    tolist(fileset(local.repo_root, "rules/**")),
    ["pyproject.toml", "scripts/build_lambda_zip.py"],
  ))) : []

  package_hash = sha256(join("\n", concat(
    [for f in local.package_inputs : "${f} ${filesha256("${local.repo_root}/${f}")}"],
    [var.lambda_runtime, var.lambda_architecture, tostring(var.lambda_package_include_boto3)],
  )))

  built_package_path = "${path.root}/.terraform/ctrules/${var.function_name}-lambda-${substr(local.package_hash, 0, 16)}.zip"

  package_file = local.build_package ? local.built_package_path : var.lambda_zip_path
  use_s3_code  = var.lambda_s3_bucket != null || var.lambda_s3_key != null
  package_sources = [
    var.lambda_zip_path != null, local.build_package, local.use_s3_code, var.lambda_image_uri != null,
  ]
}

resource "terraform_data" "lambda_package" {
  count            = local.build_package ? 1 : 0
  triggers_replace = [local.built_package_path]

  # No shell: the interpreter list is the argv, the command its last argument (the output path).
  provisioner "local-exec" {
    interpreter = concat(
      [
        var.lambda_package_python, "${local.repo_root}/scripts/build_lambda_zip.py", "--pip",
        "--arch", var.lambda_architecture == "arm64" ? "aarch64" : "x86_64",
        "--python", trimprefix(var.lambda_runtime, "python"),
      ],
      var.lambda_package_include_boto3 ? ["--with-boto3"] : [],
      ["-o"],
    )
    command = local.built_package_path
  }
}
