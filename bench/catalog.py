"""Bench — the universe of CloudTrail event names the generator and the rule generator draw from.

The corpus (invictus-ir/aws_dataset) covers about 260 event names of an attack simulation; a real
organisation trail sees many more, mostly rarely. This catalogue adds the long tail per service so
that generated logs and generated rules spread over many names, as they do in production, while the
corpus keeps supplying the realistic record shapes of the names it has.
"""

from __future__ import annotations

# Services whose API names are built from verbs and nouns; the names are real API calls or
# shaped exactly like them (CloudTrail only cares that they are strings, rules that they differ).
_EC2_NOUNS = [
    ("Instance", "Instances"), ("Volume", "Volumes"), ("Snapshot", "Snapshots"),
    ("SecurityGroup", "SecurityGroups"), ("Vpc", "Vpcs"), ("Subnet", "Subnets"),
    ("RouteTable", "RouteTables"), ("NetworkInterface", "NetworkInterfaces"),
    ("Image", "Images"), ("KeyPair", "KeyPairs"), ("LaunchTemplate", "LaunchTemplates"),
    ("NatGateway", "NatGateways"), ("InternetGateway", "InternetGateways"),
    ("VpcEndpoint", "VpcEndpoints"), ("TransitGateway", "TransitGateways"),
    ("FlowLogs", "FlowLogs"), ("NetworkAcl", "NetworkAcls"), ("PlacementGroup", "PlacementGroups"),
    ("VpnConnection", "VpnConnections"), ("CustomerGateway", "CustomerGateways"),
    ("DhcpOptions", "DhcpOptions"), ("EgressOnlyInternetGateway", "EgressOnlyInternetGateways"),
    ("CapacityReservation", "CapacityReservations"), ("Fleet", "Fleets"),
    ("TrafficMirrorSession", "TrafficMirrorSessions"), ("VpcPeeringConnection",
                                                        "VpcPeeringConnections"),
]
_IAM_NOUNS = [
    ("User", "Users"), ("Role", "Roles"), ("Group", "Groups"), ("Policy", "Policies"),
    ("AccessKey", "AccessKeys"), ("LoginProfile", "LoginProfiles"),
    ("InstanceProfile", "InstanceProfiles"), ("SAMLProvider", "SAMLProviders"),
    ("OpenIDConnectProvider", "OpenIDConnectProviders"), ("ServerCertificate",
                                                          "ServerCertificates"),
    ("VirtualMFADevice", "VirtualMFADevices"), ("ServiceLinkedRole", "ServiceLinkedRoles"),
]
_S3_CONFIGS = [
    "Acl", "Cors", "Encryption", "Lifecycle", "Logging", "Notification", "Policy",
    "Replication", "Tagging", "Versioning", "Website", "OwnershipControls",
    "PublicAccessBlock", "IntelligentTieringConfiguration", "InventoryConfiguration",
    "AnalyticsConfiguration", "MetricsConfiguration", "RequestPayment", "Accelerate",
    "ObjectLockConfiguration",
]

_PLAIN: dict[str, list[str]] = {
    "sts.amazonaws.com": [
        "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetCallerIdentity",
        "GetSessionToken", "GetFederationToken", "DecodeAuthorizationMessage", "GetAccessKeyInfo",
    ],
    "kms.amazonaws.com": [
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
        "CreateKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "DisableKey", "EnableKey",
        "PutKeyPolicy", "GetKeyPolicy", "DescribeKey", "ListKeys", "ListAliases", "CreateAlias",
        "DeleteAlias", "CreateGrant", "RetireGrant", "RevokeGrant", "EnableKeyRotation",
        "DisableKeyRotation", "GetKeyRotationStatus", "ListGrants", "ImportKeyMaterial", "Sign",
        "Verify", "GenerateRandom",
    ],
    "cloudtrail.amazonaws.com": [
        "CreateTrail", "DeleteTrail", "UpdateTrail", "StartLogging", "StopLogging",
        "PutEventSelectors", "PutInsightSelectors", "DescribeTrails", "GetTrailStatus",
        "GetEventSelectors", "LookupEvents", "ListTrails", "CreateEventDataStore",
        "DeleteEventDataStore", "StartQuery",
    ],
    "signin.amazonaws.com": [
        "ConsoleLogin", "CheckMfa", "SwitchRole", "ExitRole", "RenewRole",
        "PasswordRecoveryRequested",
    ],
    "lambda.amazonaws.com": [
        "CreateFunction20150331", "DeleteFunction20150331", "GetFunction20150331v2",
        "UpdateFunctionCode20150331v2", "UpdateFunctionConfiguration20150331v2",
        "AddPermission20150331v2", "RemovePermission20150331v2", "ListFunctions20150331",
        "GetPolicy20150331v2", "CreateEventSourceMapping20150331", "PublishVersion20150331",
        "PutFunctionConcurrency20171031", "CreateFunctionUrlConfig", "UpdateFunctionUrlConfig",
        "GetFunctionConfiguration20150331v2", "ListVersionsByFunction20150331",
        "GetFunctionCodeSigningConfig",
    ],
    "secretsmanager.amazonaws.com": [
        "GetSecretValue", "DescribeSecret", "ListSecrets", "CreateSecret", "DeleteSecret",
        "PutSecretValue", "UpdateSecret", "RotateSecret", "PutResourcePolicy",
        "DeleteResourcePolicy", "GetResourcePolicy", "RestoreSecret", "TagResource",
        "ReplicateSecretToRegions", "BatchGetSecretValue",
    ],
    "ssm.amazonaws.com": [
        "GetParameter", "GetParameters", "GetParametersByPath", "PutParameter", "DeleteParameter",
        "DescribeParameters", "SendCommand", "StartSession", "TerminateSession", "ResumeSession",
        "GetCommandInvocation", "ListCommands", "DescribeInstanceInformation",
        "UpdateInstanceInformation",
        "PutInventory", "PutComplianceItems", "ListInstanceAssociations", "GetDocument",
        "CreateDocument", "ModifyDocumentPermission", "StartAutomationExecution",
    ],
    "organizations.amazonaws.com": [
        "DescribeOrganization", "LeaveOrganization", "ListAccounts", "CreateAccount",
        "InviteAccountToOrganization", "RemoveAccountFromOrganization", "AttachPolicy",
        "DetachPolicy", "CreatePolicy", "UpdatePolicy", "DeletePolicy", "EnableAWSServiceAccess",
        "DisableAWSServiceAccess", "RegisterDelegatedAdministrator", "ListDelegatedAdministrators",
        "MoveAccount", "CloseAccount",
    ],
    "guardduty.amazonaws.com": [
        "CreateDetector", "DeleteDetector", "UpdateDetector", "GetDetector", "ListDetectors",
        "GetFindings", "ListFindings", "ArchiveFindings", "CreateIPSet", "UpdateIPSet",
        "DeleteIPSet", "CreateFilter", "UpdateFilter", "DeleteFilter",
        "DisassociateFromMasterAccount",
        "StopMonitoringMembers", "CreatePublishingDestination", "DeletePublishingDestination",
    ],
    "config.amazonaws.com": [
        "PutConfigurationRecorder", "StopConfigurationRecorder", "DeleteConfigurationRecorder",
        "DeleteDeliveryChannel", "PutDeliveryChannel", "DescribeConfigurationRecorders",
        "DescribeConfigRules", "PutConfigRule", "DeleteConfigRule", "PutEvaluations",
        "SelectResourceConfig", "DescribeComplianceByConfigRule",
    ],
    "logs.amazonaws.com": [
        "CreateLogGroup", "DeleteLogGroup", "DescribeLogGroups", "DescribeLogStreams",
        "PutRetentionPolicy", "DeleteRetentionPolicy", "PutSubscriptionFilter",
        "DeleteSubscriptionFilter", "CreateExportTask", "FilterLogEvents", "GetLogEvents",
        "StartQuery", "GetQueryResults", "PutResourcePolicy", "ListTagsLogGroup",
        "AssociateKmsKey", "DisassociateKmsKey",
    ],
    "rds.amazonaws.com": [
        "CreateDBInstance", "DeleteDBInstance", "ModifyDBInstance", "RebootDBInstance",
        "StopDBInstance", "StartDBInstance", "CreateDBSnapshot", "DeleteDBSnapshot",
        "ModifyDBSnapshotAttribute", "RestoreDBInstanceFromDBSnapshot", "CreateDBCluster",
        "DeleteDBCluster", "ModifyDBCluster", "DescribeDBInstances", "DescribeDBClusters",
        "DescribeDBSnapshots", "DescribeDBEngineVersions", "DescribeEvents",
        "DescribeOrderableDBInstanceOptions", "DescribePendingMaintenanceActions",
        "CopyDBSnapshot", "ModifyDBClusterSnapshotAttribute", "DescribeDBLogFiles",
        "DownloadDBLogFilePortion",
    ],
    "ecs.amazonaws.com": [
        "RunTask", "StartTask", "StopTask", "DescribeTasks", "ListTasks", "RegisterTaskDefinition",
        "DeregisterTaskDefinition", "CreateService", "UpdateService", "DeleteService",
        "DescribeServices", "ListClusters", "DescribeClusters", "ExecuteCommand",
        "SubmitTaskStateChange", "DiscoverPollEndpoint", "UpdateContainerInstancesState",
    ],
    "eks.amazonaws.com": [
        "CreateCluster", "DeleteCluster", "DescribeCluster", "ListClusters", "UpdateClusterConfig",
        "CreateNodegroup", "DeleteNodegroup", "UpdateNodegroupConfig", "DescribeNodegroup",
        "CreateAccessEntry", "AssociateAccessPolicy", "CreateAddon", "DeleteAddon",
    ],
    "dynamodb.amazonaws.com": [
        "CreateTable", "DeleteTable", "UpdateTable", "DescribeTable", "ListTables",
        "CreateBackup", "DeleteBackup", "RestoreTableFromBackup", "UpdateContinuousBackups",
        "DescribeContinuousBackups", "ExportTableToPointInTime", "DescribeTimeToLive",
        "UpdateTimeToLive", "ListTagsOfResource", "PutResourcePolicy",
    ],
    "sns.amazonaws.com": [
        "CreateTopic", "DeleteTopic", "Subscribe", "Unsubscribe", "SetTopicAttributes",
        "GetTopicAttributes", "ListTopics", "ListSubscriptions", "ConfirmSubscription",
        "AddPermission", "RemovePermission",
    ],
    "sqs.amazonaws.com": [
        "CreateQueue", "DeleteQueue", "SetQueueAttributes", "GetQueueAttributes", "ListQueues",
        "PurgeQueue", "AddPermission", "RemovePermission", "TagQueue", "GetQueueUrl",
    ],
    "route53.amazonaws.com": [
        "ChangeResourceRecordSets", "CreateHostedZone", "DeleteHostedZone", "ListHostedZones",
        "ListResourceRecordSets", "GetHostedZone", "AssociateVPCWithHostedZone",
        "ChangeTagsForResource", "DisableDomainAutoRenew", "TransferDomainToAnotherAwsAccount",
    ],
    "elasticloadbalancing.amazonaws.com": [
        "CreateLoadBalancer", "DeleteLoadBalancer", "DescribeLoadBalancers",
        "ModifyLoadBalancerAttributes", "CreateListener", "DeleteListener", "ModifyListener",
        "RegisterTargets", "DeregisterTargets", "DescribeTargetHealth", "DescribeTargetGroups",
        "CreateTargetGroup", "DeleteTargetGroup",
    ],
    "monitoring.amazonaws.com": [
        "PutMetricAlarm", "DeleteAlarms", "DescribeAlarms", "DisableAlarmActions",
        "EnableAlarmActions", "GetMetricData", "ListMetrics", "PutDashboard", "DeleteDashboards",
        "SetAlarmState",
    ],
    "securityhub.amazonaws.com": [
        "DescribeHub", "EnableSecurityHub", "DisableSecurityHub", "BatchUpdateFindings",
        "GetFindings", "BatchImportFindings", "UpdateStandardsControl", "BatchDisableStandards",
        "DeleteInsight",
    ],
    "sso.amazonaws.com": [
        "CreatePermissionSet", "DeletePermissionSet", "UpdatePermissionSet",
        "AttachManagedPolicyToPermissionSet", "PutInlinePolicyToPermissionSet",
        "CreateAccountAssignment", "DeleteAccountAssignment", "ListPermissionSets",
        "DescribePermissionSet", "ListAccountAssignments",
    ],
    "ecr.amazonaws.com": [
        "GetAuthorizationToken", "BatchGetImage", "GetDownloadUrlForLayer", "PutImage",
        "BatchCheckLayerAvailability", "InitiateLayerUpload", "CompleteLayerUpload",
        "CreateRepository", "DeleteRepository", "SetRepositoryPolicy", "DescribeImages",
        "DescribeRepositories", "PutLifecyclePolicy", "DescribeImageScanFindings",
    ],
    "cloudformation.amazonaws.com": [
        "CreateStack", "UpdateStack", "DeleteStack", "DescribeStacks", "DescribeStackEvents",
        "DescribeStackResources", "ListStacks", "GetTemplate", "CreateChangeSet",
        "ExecuteChangeSet", "DescribeChangeSet", "ValidateTemplate", "CreateStackSet",
    ],
    "autoscaling.amazonaws.com": [
        "DescribeAutoScalingGroups", "CreateAutoScalingGroup", "UpdateAutoScalingGroup",
        "DeleteAutoScalingGroup", "SetDesiredCapacity", "CreateLaunchConfiguration",
        "DescribeScalingActivities", "PutScalingPolicy", "DescribeLaunchConfigurations",
    ],
    "health.amazonaws.com": ["DescribeEventAggregates", "DescribeEvents", "DescribeEventDetails"],
    "access-analyzer.amazonaws.com": [
        "CreateAnalyzer", "DeleteAnalyzer", "ListAnalyzers", "ListFindings", "UpdateFindings",
        "ValidatePolicy",
    ],
    "backup.amazonaws.com": [
        "CreateBackupPlan", "DeleteBackupPlan", "DeleteBackupVault", "DeleteRecoveryPoint",
        "StartBackupJob", "ListBackupJobs", "PutBackupVaultAccessPolicy", "DescribeBackupVault",
        "UpdateRecoveryPointLifecycle",
    ],
    "waf-regional.amazonaws.com": ["CreateWebACL", "DeleteWebACL", "UpdateWebACL", "ListWebACLs"],
    "wafv2.amazonaws.com": [
        "CreateWebACL", "DeleteWebACL", "UpdateWebACL", "ListWebACLs", "GetWebACL",
        "CreateIPSet", "UpdateIPSet", "DeleteIPSet", "AssociateWebACL", "DisassociateWebACL",
    ],
    "apigateway.amazonaws.com": [
        "CreateRestApi", "DeleteRestApi", "UpdateRestApi", "GetRestApis", "CreateDeployment",
        "CreateStage", "UpdateStage", "DeleteStage", "CreateApiKey", "GetApiKeys",
    ],
    "glue.amazonaws.com": [
        "CreateJob", "DeleteJob", "StartJobRun", "GetJobs", "GetTables", "GetDatabases",
        "CreateDevEndpoint", "UpdateDevEndpoint", "GetCrawlers", "StartCrawler",
    ],
    "athena.amazonaws.com": [
        "StartQueryExecution", "GetQueryExecution", "GetQueryResults", "ListWorkGroups",
        "CreateWorkGroup", "DeleteWorkGroup", "UpdateWorkGroup",
    ],
    "bedrock.amazonaws.com": [
        "InvokeModel", "InvokeModelWithResponseStream", "ListFoundationModels",
        "CreateModelInvocationJob", "PutModelInvocationLoggingConfiguration",
        "DeleteModelInvocationLoggingConfiguration", "CreateGuardrail", "DeleteGuardrail",
        "GetFoundationModelAvailability", "ListInferenceProfiles",
    ],
    "macie2.amazonaws.com": ["EnableMacie", "DisableMacie", "GetMacieSession", "ListFindings"],
    "inspector2.amazonaws.com": ["Enable", "Disable", "ListFindings", "ListCoverage"],
    "acm.amazonaws.com": [
        "RequestCertificate", "DeleteCertificate", "DescribeCertificate", "ListCertificates",
        "ExportCertificate", "ImportCertificate",
    ],
    "cognito-idp.amazonaws.com": [
        "CreateUserPool", "DeleteUserPool", "AdminCreateUser", "AdminDeleteUser",
        "AdminSetUserPassword", "AdminInitiateAuth", "ListUserPools", "UpdateUserPool",
    ],
    "elasticfilesystem.amazonaws.com": [
        "CreateFileSystem", "DeleteFileSystem", "DescribeFileSystems", "PutFileSystemPolicy",
        "CreateMountTarget", "DescribeMountTargets",
    ],
    "kinesis.amazonaws.com": [
        "CreateStream", "DeleteStream", "DescribeStream", "ListStreams", "StopStreamEncryption",
        "StartStreamEncryption",
    ],
    "events.amazonaws.com": [
        "PutRule", "DeleteRule", "PutTargets", "RemoveTargets", "DisableRule", "EnableRule",
        "ListRules", "DescribeRule",
    ],
    "ram.amazonaws.com": [
        "CreateResourceShare", "DeleteResourceShare", "AssociateResourceShare",
        "AcceptResourceShareInvitation", "ListResources", "GetResourceShares",
    ],
    "account.amazonaws.com": [
        "GetRegionOptStatus", "EnableRegion", "DisableRegion", "PutAlternateContact",
        "DeleteAlternateContact", "GetContactInformation", "PutContactInformation",
    ],
    "billingconsole.amazonaws.com": ["GetBillingData", "UpdateBillingPreferences"],
    "ce.amazonaws.com": ["GetCostAndUsage", "GetCostForecast", "GetDimensionValues"],
    "notifications.amazonaws.com": ["ListNotificationHubs"],
    "resource-explorer-2.amazonaws.com": ["ListIndexes", "Search"],
    "rolesanywhere.amazonaws.com": [
        "CreateProfile", "CreateTrustAnchor", "DeleteProfile", "DeleteTrustAnchor", "ListProfiles",
        "ListTrustAnchors",
    ],
    "servicecatalog-appregistry.amazonaws.com": ["ListApplications"],
    "route53resolver.amazonaws.com": [
        "ListFirewallRuleGroupAssociations", "CreateResolverQueryLogConfig",
        "DeleteResolverQueryLogConfig", "AssociateResolverQueryLogConfig",
    ],
    "devops-guru.amazonaws.com": ["GetResourceCollection", "SearchInsights"],
}


def _ec2_names() -> list[str]:
    names = []
    for one, many in _EC2_NOUNS:
        names += [f"Create{one}", f"Delete{one}", f"Describe{many}", f"Modify{one}Attribute"]
    names += [
        "RunInstances", "StartInstances", "StopInstances", "TerminateInstances", "RebootInstances",
        "GetPasswordData", "GetConsoleOutput", "GetConsoleScreenshot",
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
        "CreateTags", "DeleteTags", "DescribeTags", "AllocateAddress", "ReleaseAddress",
        "AssociateAddress", "DisassociateAddress", "AttachVolume", "DetachVolume",
        "ModifySnapshotAttribute", "ModifyImageAttribute", "CopyImage", "CopySnapshot",
        "RegisterImage", "DeregisterImage", "ImportKeyPair", "DescribeRegions",
        "DescribeAvailabilityZones", "DescribeAccountAttributes", "DescribeInstanceStatus",
        "DescribeInstanceAttribute", "DescribeVpcAttribute", "DisableEbsEncryptionByDefault",
        "EnableEbsEncryptionByDefault", "GetEbsEncryptionByDefault", "CreateRoute", "DeleteRoute",
        "ReplaceRoute", "AssociateRouteTable", "DisassociateRouteTable", "AttachInternetGateway",
        "DetachInternetGateway", "SendSerialConsoleSSHPublicKey", "ModifyInstanceMetadataOptions",
        "CreateDefaultVpc", "RequestSpotInstances", "CancelSpotInstanceRequests",
        "DescribeSpotPriceHistory", "SharedSnapshotVolumeCreated",
    ]
    return names


def _iam_names() -> list[str]:
    names = []
    for one, many in _IAM_NOUNS:
        names += [f"Create{one}", f"Delete{one}", f"Get{one}", f"List{many}"]
    names += [
        "AttachUserPolicy", "DetachUserPolicy", "AttachRolePolicy", "DetachRolePolicy",
        "AttachGroupPolicy", "DetachGroupPolicy", "PutUserPolicy", "PutRolePolicy",
        "PutGroupPolicy", "DeleteUserPolicy", "DeleteRolePolicy", "DeleteGroupPolicy",
        "AddUserToGroup", "RemoveUserFromGroup", "UpdateAssumeRolePolicy", "UpdateAccessKey",
        "UpdateLoginProfile", "CreatePolicyVersion", "SetDefaultPolicyVersion",
        "DeletePolicyVersion", "GetPolicyVersion", "ListPolicyVersions", "EnableMFADevice",
        "DeactivateMFADevice", "ResyncMFADevice", "ListMFADevices", "GetAccountSummary",
        "GetAccountAuthorizationDetails", "GenerateCredentialReport", "GetCredentialReport",
        "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy", "ListAttachedRolePolicies",
        "ListAttachedUserPolicies", "ListRolePolicies", "ListUserPolicies", "GetRolePolicy",
        "GetUserPolicy", "ListEntitiesForPolicy", "ListGroupsForUser",
        "ListInstanceProfilesForRole",
        "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile", "TagRole", "TagUser",
        "UntagRole", "PassRole", "ListSSHPublicKeys", "UploadSSHPublicKey",
        "ListServiceSpecificCredentials", "ListSigningCertificates", "UploadSigningCertificate",
        "CreateServiceSpecificCredential", "UpdateRole", "ChangePassword", "TagInstanceProfile",
    ]
    return names


def _s3_names() -> list[str]:
    names = []
    for cfg in _S3_CONFIGS:
        names += [f"GetBucket{cfg}", f"PutBucket{cfg}", f"DeleteBucket{cfg}"]
    names += [
        "CreateBucket", "DeleteBucket", "ListBuckets", "HeadBucket", "GetBucketLocation",
        "GetAccountPublicAccessBlock", "PutAccountPublicAccessBlock",
        "DeleteAccountPublicAccessBlock", "GetStorageLensConfiguration", "ListAccessPoints",
        "CreateAccessPoint", "DeleteAccessPoint", "GetBucketPolicyStatus",
        "GetStorageLensDashboardDataInternal",
    ]
    return names


def _build() -> dict[str, list[str]]:
    catalog = {source: list(dict.fromkeys(names)) for source, names in _PLAIN.items()}
    catalog["ec2.amazonaws.com"] = list(dict.fromkeys(_ec2_names()))
    catalog["iam.amazonaws.com"] = list(dict.fromkeys(_iam_names()))
    catalog["s3.amazonaws.com"] = list(dict.fromkeys(_s3_names()))
    return catalog


#: eventSource -> management event names of that service.
CATALOG: dict[str, list[str]] = _build()

#: S3 data-event names (only written when data events are asked for).
S3_DATA_EVENTS = ["GetObject", "PutObject", "HeadObject", "DeleteObject", "ListObjects",
                  "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                  "GetObjectTagging", "PutObjectAcl", "DeleteObjects"]

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet", "Select",
                 "Filter", "Validate", "Check")


def is_read(name: str) -> bool:
    return name.startswith(READ_PREFIXES)


def all_names() -> list[tuple[str, str]]:
    """Every (eventSource, eventName) pair of the catalogue, in a fixed order."""
    return [(source, name) for source in sorted(CATALOG) for name in CATALOG[source]]
