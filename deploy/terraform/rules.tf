# Rule set packaging: custom .ctr files (rules_dir), the bundled pack (use_default_rules) with the
# operator's site knowledge in place of its site.ctr (site_rules_file) and the routes generated
# from var.configuration go into one Lambda layer, mounted at /opt/ctrules-rules
# and named by CTRULES_RULES. The zip is built at plan time from file contents, so an edited rule
# changes the hash and publishes a new layer version; an unchanged rule set deploys nothing.
# The runtime loads the directory once per container and refuses a rule set with errors at cold
# start (its `ctrules check` diagnostics are in the log), so a broken rule never half-loads.

data "archive_file" "rules" {
  count       = local.build_rules_layer ? 1 : 0
  type        = "zip"
  output_path = "${path.root}/.terraform/ctrules/${var.function_name}-rules.zip"

  dynamic "source" {
    for_each = local.custom_rule_files
    content {
      content  = file("${var.rules_dir}/${source.value}")
      filename = "${local.rules_layer_root}/custom/${source.value}"
    }
  }

  dynamic "source" {
    for_each = local.default_pack_files
    content {
      content  = file("${local.default_pack_dir}/${source.value}")
      filename = "${local.rules_layer_root}/default/${source.value}"
    }
  }

  # The operator's site knowledge, where the pack's own site.ctr would be.
  dynamic "source" {
    for_each = var.site_rules_file == null ? [] : [var.site_rules_file]
    content {
      content  = file(source.value)
      filename = "${local.rules_layer_root}/default/site.ctr"
    }
  }

  dynamic "source" {
    for_each = length(local.configuration) > 0 ? [local.routes_ctr] : []
    content {
      content  = source.value
      filename = "${local.rules_layer_root}/terraform-configuration-routes.ctr"
    }
  }
}

resource "aws_lambda_layer_version" "rules" {
  count = local.build_rules_layer ? 1 : 0

  layer_name               = "${var.function_name}-rules"
  description              = "ctrules rule set of ${var.function_name}"
  filename                 = data.archive_file.rules[0].output_path
  source_code_hash         = data.archive_file.rules[0].output_base64sha256
  compatible_runtimes      = local.use_image ? null : [var.lambda_runtime]
  compatible_architectures = [var.lambda_architecture]
}
