using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status;
using EmailPlatform.Status.Storage;

if (args is [HealthProbe.Command, ..])
{
    return await HealthProbe.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);

var migrate = args is ["migrate", ..];

builder.AddServiceDefaults();
// Ready without the broker: reads and the workers' suppression lookups need only PostgreSQL, and the events wait in
// their queues for the bus to come back.
builder.AddMessageBus(bus => bus.AddStatusConsumers(), readyWithoutBroker: true, topologyOnly: migrate);
builder.AddStatus();

var app = builder.Build();

if (migrate)
{
    await app.Services.MigrateStoreAsync<StatusDbContext>();
    // The status service is the one subscriber of the events the ingress and the workers publish: its queues are
    // declared and bound before they start, so that no event of a first install is published to no queue and dropped.
    await app.Services.DeployBusTopologyAsync();
    return 0;
}

app.MapDefaultEndpoints();
app.MapStatus();

await app.RunAsync();
return 0;
