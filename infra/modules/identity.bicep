// infra/modules/identity.bicep: the user-assigned managed identity the
// container app and the init job run as (registry pull, Key Vault secrets,
// Azure OpenAI). Its role assignments live next to the resources they grant.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
