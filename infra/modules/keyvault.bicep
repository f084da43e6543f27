// infra/modules/keyvault.bicep: Key Vault in RBAC mode holding the host's
// secrets, "Key Vault Secrets User" for the app's managed identity (Container
// Apps resolves the secret references with it) and, optionally, "Key Vault
// Secrets Officer" for whoever runs deploy.sh (it reads the secrets back on
// re-deploys so they are generated once and live only here).
//
// Secrets:
//   database-url            admin DSN; only the migrate/seed/embed job uses it
//   query-password          password of the query role zava_query
//   rls-secret              the RLS gate secret (>= 32 characters)
//   postgres-admin-password the admin password alone (deploy.sh reuses it)

@description('Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Principal (object) id of the managed identity that reads the secrets.')
param readerPrincipalId string

@description('Principal (object) id of the deployer, granted Secrets Officer (empty = none).')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('PostgreSQL server FQDN for the admin DSN.')
param postgresFqdn string

param databaseName string
param postgresAdminLogin string

@secure()
param postgresAdminPassword string

@secure()
param queryPassword string

@secure()
param rlsSecret string

// Built-in roles.
var secretsUserRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
var secretsOfficerRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource databaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'database-url'
  properties: {
    contentType: 'PostgreSQL connection URL (admin)'
    value: 'postgres://${uriComponent(postgresAdminLogin)}:${uriComponent(postgresAdminPassword)}@${postgresFqdn}:5432/${databaseName}?sslmode=require'
  }
}

resource queryPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'query-password'
  properties: {
    contentType: 'password of the zava_query role'
    value: queryPassword
  }
}

resource rlsSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'rls-secret'
  properties: {
    contentType: 'RLS gate secret'
    value: rlsSecret
  }
}

resource adminPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'postgres-admin-password'
  properties: {
    contentType: 'PostgreSQL admin password'
    value: postgresAdminPassword
  }
}

resource readerSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: secretsUserRoleId
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: secretsOfficerRoleId
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Versionless URIs (not values): Container Apps follows the latest version
// (it re-reads Key Vault references periodically; a new revision picks a
// change up at once).
#disable-next-line outputs-should-not-contain-secrets
output databaseUrlSecretUri string = databaseUrl.properties.secretUri
#disable-next-line outputs-should-not-contain-secrets
output queryPasswordSecretUri string = queryPasswordSecret.properties.secretUri
#disable-next-line outputs-should-not-contain-secrets
output rlsSecretSecretUri string = rlsSecretSecret.properties.secretUri
