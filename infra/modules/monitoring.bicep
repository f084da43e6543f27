// infra/modules/monitoring.bicep: the Log Analytics workspace (Container Apps
// console and system logs) and a workspace-based Application Insights (traces
// and logs from the Container Apps managed OpenTelemetry agent).

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param appInsightsName string

param location string
param tags object = {}

@description('Days the workspace keeps data.')
@minValue(30)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // The managed OpenTelemetry agent sends with the connection string, so
    // local (key) authentication must stay allowed.
    DisableLocalAuth: false
  }
}

output logAnalyticsName string = logAnalytics.name
output appInsightsName string = appInsights.name
