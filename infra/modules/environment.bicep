// infra/modules/environment.bicep: the Container Apps environment (workload
// profiles, Consumption), wired to Log Analytics for console/system logs and,
// through the managed OpenTelemetry agent, to Application Insights for traces
// and logs; plus the environment storage `components` (the Azure Files share,
// read-only) that the app mounts at /components.
//
// appInsightsConfiguration / openTelemetryConfiguration exist only in the
// preview API versions of Microsoft.App/managedEnvironments (not in the
// stable 2025-07-01), hence 2024-10-02-preview here. With the agent on, the
// platform injects OTEL_EXPORTER_OTLP_ENDPOINT (gRPC) into every container.

param name string
param location string
param tags object = {}

@description('Existing Log Analytics workspace (same resource group).')
param logAnalyticsName string

@description('Existing Application Insights component (same resource group).')
param appInsightsName string

@description('Existing storage account holding the components share (same resource group).')
param storageAccountName string

param shareName string

@description('Route OpenTelemetry traces and logs to Application Insights via the managed agent.')
param enableOpenTelemetry bool = true

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

var baseProperties = {
  appLogsConfiguration: {
    destination: 'log-analytics'
    logAnalyticsConfiguration: {
      customerId: logAnalytics.properties.customerId
      sharedKey: logAnalytics.listKeys().primarySharedKey
    }
  }
  workloadProfiles: [
    {
      name: 'Consumption'
      workloadProfileType: 'Consumption'
    }
  ]
  zoneRedundant: false
}

// Application Insights accepts traces and logs from the agent, not metrics.
var openTelemetryProperties = enableOpenTelemetry ? {
  appInsightsConfiguration: {
    connectionString: appInsights.properties.ConnectionString
  }
  openTelemetryConfiguration: {
    tracesConfiguration: {
      destinations: [
        'appInsights'
      ]
    }
    logsConfiguration: {
      destinations: [
        'appInsights'
      ]
    }
  }
} : {}

resource managedEnv 'Microsoft.App/managedEnvironments@2024-10-02-preview' = {
  name: name
  location: location
  tags: tags
  properties: union(baseProperties, openTelemetryProperties)
}

resource componentsStorage 'Microsoft.App/managedEnvironments/storages@2024-10-02-preview' = {
  parent: managedEnv
  name: 'components'
  properties: {
    azureFile: {
      accountName: storage.name
      accountKey: storage.listKeys().keys[0].value
      shareName: shareName
      // Replicas only read the folder; uploads go through the storage API.
      accessMode: 'ReadOnly'
    }
  }
}

output id string = managedEnv.id
output name string = managedEnv.name
output defaultDomain string = managedEnv.properties.defaultDomain
output componentsStorageName string = componentsStorage.name
