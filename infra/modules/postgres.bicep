// infra/modules/postgres.bicep: Azure Database for PostgreSQL Flexible Server
// 17 with password and Microsoft Entra authentication, the `vector` extension
// allow-listed (azure.extensions), the `zava` database and a firewall rule
// that admits Azure services (Container Apps on the public network).
//
// Network: public access restricted to "Azure services" (0.0.0.0 rule). That
// admits any Azure-hosted client, of any tenant, that knows a password; TLS is
// required (require_secure_transport stays at its default, on). For
// production put the server and the Container Apps environment in a VNet
// (delegated subnet + private DNS) instead; that is not done here.

@description('Server name: 3-63 lowercase letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(63)
param name string

param location string
param tags object = {}

@description('Password administrator login (cannot be changed after creation).')
param administratorLogin string

@secure()
@description('Password of the administrator login.')
param administratorPassword string

@description('Compute size, e.g. Standard_B2s (Burstable), Standard_D2ds_v5 (GeneralPurpose).')
param skuName string = 'Standard_B2s'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@minValue(32)
param storageSizeGB int = 32

@description('Database the host uses.')
param databaseName string = 'zava'

@description('Optional Microsoft Entra administrator: object id (empty = none).')
param entraAdminObjectId string = ''

@description('Display name (UPN for users) of the Microsoft Entra administrator.')
param entraAdminName string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param entraAdminType string = 'User'

@description('Read replicas of the server (0-5). Not available in the Burstable tier.')
@minValue(0)
@maxValue(5)
param readReplicas int = 0

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '17'
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Enabled'
      tenantId: subscription().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// The flexible server takes one change at a time, so the children below are
// chained with dependsOn instead of being created in parallel.

// `CREATE EXTENSION vector` (run by `mcp-host migrate`) needs the allow-list.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'VECTOR'
    source: 'user-override'
  }
}

// A runaway sort or hash cannot fill the disk. `mcp-host migrate` sets this
// for the query role when it runs as a superuser; Azure's admin is not one.
resource tempFileLimit 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'temp_file_limit'
  properties: {
    value: '1048576' // kB = 1 GiB
    source: 'user-override'
  }
  dependsOn: [
    extensions
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2025-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    tempFileLimit
  ]
}

// 0.0.0.0-0.0.0.0 is Azure's convention for "allow Azure services".
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
  ]
}

resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2025-08-01' = if (!empty(entraAdminObjectId)) {
  parent: server
  name: entraAdminObjectId
  properties: {
    principalType: entraAdminType
    principalName: entraAdminName
    tenantId: subscription().tenantId
  }
  dependsOn: [
    allowAzureServices
  ]
}

// Read replicas: Azure restores a base backup of the server and streams its
// WAL (asynchronous physical replication), exactly what the host expects of
// a hot standby. Roles, grants, the gate key and the data come with the
// stream; firewall rules and server parameters do not, so each replica gets
// the same ones. The host spreads caller statements over them
// (MCP_QUERY_REPLICA_URLS, set by app.bicep from `replicaFqdns`).
resource replicas 'Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01' = [for i in range(0, readReplicas): {
  name: '${name}-r${i + 1}'
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    createMode: 'Replica'
    sourceServerResourceId: server.id
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
  dependsOn: [
    entraAdmin
    allowAzureServices
  ]
}]

resource replicaFirewall 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = [for i in range(0, readReplicas): {
  parent: replicas[i]
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}]

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
output replicaFqdns array = [for i in range(0, readReplicas): replicas[i].properties.fullyQualifiedDomainName]
