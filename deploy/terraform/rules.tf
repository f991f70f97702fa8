# Rule set packaging: custom .ctr files (rules_dir), the bundled pack (use_default_rules) with the
# operator's site knowledge in place of its site.ctr (site_rules_file) and the routes generated
# from var.configuration go into one Lambda layer, mounted at /opt/ctrules-rules
# and named by CTRULES_RULES. The zip's name carries a hash of its contents, computed at plan
# time, so an edited rule publishes a new layer version and an unchanged rule set deploys nothing
# (a fresh checkout without the zip plans no change: the file is only read when it changed).
# scripts/build_rules_layer.py writes it during apply with lambda_package_python, standard library
# only: no archive provider.
# The runtime loads the directory once per container and refuses a rule set with errors at cold
# start (its `ctrules check` diagnostics are in the log), so a broken rule never half-loads.

locals {
  # Path in the layer => file. The operator's site knowledge goes where the pack's own site.ctr
  # would be.
  rules_layer_files = local.build_rules_layer ? merge(
    { for f in local.custom_rule_files : "${local.rules_layer_root}/custom/${f}" => "${var.rules_dir}/${f}" },
    { for f in local.default_pack_files : "${local.rules_layer_root}/default/${f}" => "${local.default_pack_dir}/${f}" },
    var.site_rules_file == null ? {} : { "${local.rules_layer_root}/default/site.ctr" = var.site_rules_file },
  ) : {}
  # Path in the layer => generated text.
  rules_layer_contents = local.build_rules_layer && length(local.configuration) > 0 ? {
    "${local.rules_layer_root}/terraform-configuration-routes.ctr" = local.routes_ctr
  } : {}

  rules_layer_manifest = {
    files    = { for name, source in local.rules_layer_files : name => { source = source, sha256 = filesha256(source) } }
    contents = local.rules_layer_contents
  }
  # What the layer holds, not where the files sit on this machine: another checkout of the same
  # rules plans no change.
  rules_layer_hash = sha256(jsonencode({
    files    = { for name, file in local.rules_layer_manifest.files : name => file.sha256 }
    contents = { for name, text in local.rules_layer_contents : name => sha256(text) }
  }))
  rules_layer_zip = "${path.root}/.terraform/ctrules/${var.function_name}-rules-${substr(local.rules_layer_hash, 0, 16)}.zip"
}

resource "terraform_data" "rules_layer" {
  count            = local.build_rules_layer ? 1 : 0
  triggers_replace = [local.rules_layer_zip]

  # No shell: the interpreter list is the argv, the command its last argument (the output path).
  provisioner "local-exec" {
    interpreter = [
      var.lambda_package_python, "${local.repo_root}/scripts/build_rules_layer.py",
      "--manifest", jsonencode(local.rules_layer_manifest), "-o",
    ]
    command = local.rules_layer_zip
  }
}

resource "aws_lambda_layer_version" "rules" {
  count = local.build_rules_layer ? 1 : 0

  layer_name               = "${var.function_name}-rules"
  description              = "ctrules rule set of ${var.function_name}"
  # A layer version is immutable: a new zip name (new contents) is a new version.
  filename                 = local.rules_layer_zip
  compatible_runtimes      = local.use_image ? null : [var.lambda_runtime]
  compatible_architectures = [var.lambda_architecture]

  depends_on = [terraform_data.rules_layer]
}
