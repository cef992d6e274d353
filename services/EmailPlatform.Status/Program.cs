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

builder.AddServiceDefaults();
// Ready without the broker: reads and the workers' suppression lookups need only PostgreSQL, and the events wait in
// their queues for the bus to come back.
builder.AddMessageBus(bus => bus.AddStatusConsumers(), readyWithoutBroker: true);
builder.AddStatus();

var app = builder.Build();

if (args is ["migrate", ..])
{
    await app.Services.MigrateStoreAsync<StatusDbContext>();
    return 0;
}

app.MapDefaultEndpoints();
app.MapStatus();

await app.RunAsync();
return 0;
