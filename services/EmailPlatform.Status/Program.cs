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
builder.AddMessageBus(bus => bus.AddStatusConsumers());
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
