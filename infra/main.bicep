// infra/main.bicep: the Zava MCP host on Azure Container Apps (resource group
// scope: deploy.sh creates the group, then deploys this into it).
//
// Creates: Log Analytics + Application Insights, a user-assigned managed
// identity, Azure Container Registry, Key Vault (RBAC) with the secrets,
// PostgreSQL Flexible Server 17 (+ vector allow-listed, database `zava`),
// Azure OpenAI with a text-embedding-3-small deployment, a Storage account
// with the Azure Files share `components`, the Container Apps environment,
// the `mcp-host serve` container app and the migrate/seed/embed job.
//
// `stage` lets deploy.sh go in order on a fresh resource group, when the
// image does not exist yet: 'infra' (everything except the job and the app),
// then it builds the image, 'job' (adds the job; deploy.sh runs it), then
// 'all' (adds the app). Resources are never removed by a later stage
// (incremental mode), so 'all' is also the stage for plain re-deploys.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------- general

@description('Short environment name, e.g. dev or prod: lowercase letters, digits, hyphens.')
@minLength(2)
@maxLength(12)
param environmentName string

@description('Region of every resource (Azure OpenAI: see openAiLocation).')
param location string = resourceGroup().location

@description('What to deploy: infra (no job, no app), job (infra + job), all.')
@allowed([
  'infra'
  'job'
  'all'
])
param stage string = 'all'

@description('Tags added to every resource (the tag zava-mcp-env is always set).')
param tags object = {}

// ------------------------------------------------------------------ image

@description('Repository of the mcp-host image in the registry.')
param imageName string = 'zava-mcp-host'

@description('Tag of the mcp-host image (deploy.sh builds it with az acr build).')
param imageTag string = 'latest'

// ------------------------------------------------------------------ scale

@description('Fewest replicas (0 = scale to zero; sessions then end when idle).')
@minValue(0)
param minReplicas int = 1

@description('Most replicas. Keep dbPoolSize x maxReplicas under PostgreSQL max_connections.')
@minValue(1)
param maxReplicas int = 10

@description('Concurrent HTTP requests per replica before scaling out.')
@minValue(1)
param concurrentRequests int = 50

// --------------------------------------------------------------- identity

@description('Microsoft Entra tenant whose access tokens the host accepts.')
param entraTenantId string = tenant().tenantId

@description('Accepted token audiences, comma-separated: the app registration client id and/or Application ID URI (e.g. "<client-id>,api://<client-id>").')
param entraAudience string

@description('Delegated scopes (scp) that admit a caller, comma-separated.')
param entraRequiredScopes string = 'Zava.Read'

@description('Token claim holding the caller\'s RLS user id.')
param entraUserClaim string = 'rls_user_id'

@description('Optional TOML map of Entra object ids to RLS users, read by the host, e.g. /components/users.toml (empty = none).')
param entraUserMapFile string = ''

// --------------------------------------------------------------- database

@description('PostgreSQL admin login name (fixed once the server exists).')
param postgresAdminLogin string = 'zavaadmin'

@secure()
@description('PostgreSQL admin password (deploy.sh generates it and keeps it in Key Vault).')
param postgresAdminPassword string

@secure()
@description('Password of the query role zava_query (set by migrate, used by serve).')
param queryPassword string

@secure()
@description('RLS gate secret, at least 32 characters (same for migrate and serve).')
@minLength(32)
param rlsSecret string

@description('PostgreSQL compute size.')
param postgresSkuName string = 'Standard_B2s'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

@minValue(32)
param postgresStorageSizeGB int = 32

@description('Read replicas of the PostgreSQL server (0-5; GeneralPurpose or MemoryOptimized tier only). Caller statements spread over them.')
@minValue(0)
@maxValue(5)
param postgresReadReplicas int = 0

@description('Optional Microsoft Entra administrator of the server: object id (empty = none).')
param postgresEntraAdminObjectId string = ''

@description('Display name / UPN of that administrator.')
param postgresEntraAdminName string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param postgresEntraAdminType string = 'User'

@description('Connections in each replica\'s query-role pool (MCP_DB_POOL_SIZE).')
@minValue(1)
param dbPoolSize int = 16

@description('Longest a caller statement may run (MCP_STATEMENT_TIMEOUT).')
param statementTimeout string = '10s'

@description('Ceiling on rows a tool may ask for (MCP_MAX_ROWS).')
@minValue(1)
param maxRows int = 10000

@description('Run `mcp-host seed` in the job (only on a database without data).')
param seedDemoData bool = true

@description('Demo data size relative to the full set, e.g. 1.0 or 0.1.')
param seedScale string = '1.0'

// ------------------------------------------------------------- embeddings

@description('Region of the Azure OpenAI account (text-embedding-3-small must be available there).')
param openAiLocation string = location

@allowed([
  'Standard'
  'GlobalStandard'
])
param embeddingSkuName string = 'Standard'

@description('text-embedding-3-small capacity, thousands of tokens per minute.')
@minValue(1)
param embeddingCapacity int = 120

@description('Azure OpenAI data-plane API version (AZURE_OPENAI_API_VERSION).')
param azureOpenAiApiVersion string = '2024-10-21'

// ---------------------------------------------------------- observability

@description('Send traces and logs to Application Insights through the managed OpenTelemetry agent.')
param enableOpenTelemetry bool = true

// ---------------------------------------------------------------- deployer

@description('Object id of the deployer, granted Key Vault Secrets Officer so deploy.sh can read the secrets back (empty = none).')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

// ------------------------------------------------------------------ names

var envName = toLower(environmentName)
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, envName))
var baseName = 'zava-mcp-${envName}'
var allTags = union(tags, {
  'zava-mcp-env': envName
})

var appName = baseName
var jobName = '${baseName}-init'
var databaseName = 'zava'
var shareName = 'components'
var embeddingDeploymentName = 'text-embedding-3-small'

var deployJob = stage != 'infra'
var deployApp = stage == 'all'

// ---------------------------------------------------------------- modules

module monitoring 'modules/monitoring.bicep' = {
  name: '${baseName}-monitoring'
  params: {
    logAnalyticsName: 'log-${baseName}'
    appInsightsName: 'appi-${baseName}'
    location: location
    tags: allTags
  }
}

module identity 'modules/identity.bicep' = {
  name: '${baseName}-identity'
  params: {
    name: 'id-${baseName}'
    location: location
    tags: allTags
  }
}

module registry 'modules/registry.bicep' = {
  name: '${baseName}-registry'
  params: {
    name: take('acrzavamcp${replace(envName, '-', '')}${resourceToken}', 50)
    location: location
    tags: allTags
    pullPrincipalId: identity.outputs.principalId
  }
}

module postgres 'modules/postgres.bicep' = {
  name: '${baseName}-postgres'
  params: {
    name: 'psql-${baseName}-${resourceToken}'
    location: location
    tags: allTags
    administratorLogin: postgresAdminLogin
    administratorPassword: postgresAdminPassword
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    databaseName: databaseName
    entraAdminObjectId: postgresEntraAdminObjectId
    entraAdminName: postgresEntraAdminName
    entraAdminType: postgresEntraAdminType
    readReplicas: postgresReadReplicas
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: '${baseName}-keyvault'
  params: {
    name: 'kv-zava-${resourceToken}'
    location: location
    tags: allTags
    readerPrincipalId: identity.outputs.principalId
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
    postgresFqdn: postgres.outputs.fqdn
    databaseName: postgres.outputs.databaseName
    postgresAdminLogin: postgresAdminLogin
    postgresAdminPassword: postgresAdminPassword
    queryPassword: queryPassword
    rlsSecret: rlsSecret
  }
}

module openAi 'modules/openai.bicep' = {
  name: '${baseName}-openai'
  params: {
    name: 'oai-${baseName}-${resourceToken}'
    location: openAiLocation
    tags: allTags
    deploymentName: embeddingDeploymentName
    deploymentSkuName: embeddingSkuName
    deploymentCapacity: embeddingCapacity
    userPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: '${baseName}-storage'
  params: {
    name: 'stzava${resourceToken}'
    location: location
    tags: allTags
    shareName: shareName
  }
}

module appEnvironment 'modules/environment.bicep' = {
  name: '${baseName}-environment'
  params: {
    name: 'cae-${baseName}'
    location: location
    tags: allTags
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    appInsightsName: monitoring.outputs.appInsightsName
    storageAccountName: storage.outputs.name
    shareName: storage.outputs.shareName
    enableOpenTelemetry: enableOpenTelemetry
  }
}

// The app's FQDN is known before the app exists: <app>.<environment domain>.
var appFqdn = '${appName}.${appEnvironment.outputs.defaultDomain}'
var image = '${registry.outputs.loginServer}/${imageName}:${imageTag}'

module job 'modules/job.bicep' = if (deployJob) {
  name: '${baseName}-job'
  params: {
    name: jobName
    location: location
    tags: allTags
    environmentId: appEnvironment.outputs.id
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryLoginServer: registry.outputs.loginServer
    image: image
    databaseUrlSecretUri: keyVault.outputs.databaseUrlSecretUri
    queryPasswordSecretUri: keyVault.outputs.queryPasswordSecretUri
    rlsSecretSecretUri: keyVault.outputs.rlsSecretSecretUri
    seedDemoData: seedDemoData
    seedScale: seedScale
    azureOpenAiEndpoint: openAi.outputs.endpoint
    embeddingDeploymentName: openAi.outputs.deploymentName
    azureOpenAiApiVersion: azureOpenAiApiVersion
  }
}

module app 'modules/app.bicep' = if (deployApp) {
  name: '${baseName}-app'
  params: {
    name: appName
    location: location
    tags: allTags
    environmentId: appEnvironment.outputs.id
    componentsStorageName: appEnvironment.outputs.componentsStorageName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryLoginServer: registry.outputs.loginServer
    image: image
    fqdn: appFqdn
    queryPasswordSecretUri: keyVault.outputs.queryPasswordSecretUri
    rlsSecretSecretUri: keyVault.outputs.rlsSecretSecretUri
    entraTenantId: entraTenantId
    entraAudience: entraAudience
    entraRequiredScopes: entraRequiredScopes
    entraUserClaim: entraUserClaim
    entraUserMapFile: entraUserMapFile
    postgresFqdn: postgres.outputs.fqdn
    postgresReplicaFqdns: postgres.outputs.replicaFqdns
    databaseName: postgres.outputs.databaseName
    dbPoolSize: dbPoolSize
    statementTimeout: statementTimeout
    maxRows: maxRows
    azureOpenAiEndpoint: openAi.outputs.endpoint
    embeddingDeploymentName: openAi.outputs.deploymentName
    azureOpenAiApiVersion: azureOpenAiApiVersion
    minReplicas: minReplicas
    maxReplicas: maxReplicas
    concurrentRequests: concurrentRequests
  }
}

// ---------------------------------------------------------------- outputs

output mcpUrl string = 'https://${appFqdn}/mcp'
output appFqdn string = appFqdn
output appName string = appName
output jobName string = jobName
output image string = image
output registryName string = registry.outputs.name
output registryLoginServer string = registry.outputs.loginServer
output postgresFqdn string = postgres.outputs.fqdn
output postgresServerName string = postgres.outputs.name
output azureOpenAiEndpoint string = openAi.outputs.endpoint
output keyVaultName string = keyVault.outputs.name
output storageAccountName string = storage.outputs.name
output componentsShareName string = storage.outputs.shareName
output managedIdentityClientId string = identity.outputs.clientId
output containerAppsEnvironmentName string = appEnvironment.outputs.name
