// infra/modules/openai.bicep: Azure OpenAI account (custom subdomain, keys
// disabled: Microsoft Entra ID only) with the text-embedding-3-small
// deployment, and "Cognitive Services OpenAI User" for the app's managed
// identity (the host and `mcp-host embed` get tokens with it).

@description('Account name, also the custom subdomain (<name>.openai.azure.com); globally unique.')
@minLength(2)
@maxLength(64)
param name string

param location string
param tags object = {}

@description('Deployment name the host calls (EMBEDDING_MODEL_DEPLOYMENT_NAME).')
param deploymentName string = 'text-embedding-3-small'

@allowed([
  'Standard'
  'GlobalStandard'
])
param deploymentSkuName string = 'Standard'

@description('Capacity in thousands of tokens per minute.')
@minValue(1)
param deploymentCapacity int = 120

@description('Principal (object) id of the managed identity that calls the model.')
param userPrincipalId string

// Built-in role: Cognitive Services OpenAI User.
var openAiUserRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd')

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: true
  }
}

resource embedding 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: deploymentSkuName
    capacity: deploymentCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: 'text-embedding-3-small'
      version: '1'
    }
  }
}

resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, userPrincipalId, openAiUserRoleId)
  scope: account
  properties: {
    roleDefinitionId: openAiUserRoleId
    principalId: userPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
// https://<name>.openai.azure.com/ (the host accepts the trailing slash).
output endpoint string = account.properties.endpoint
output deploymentName string = embedding.name
