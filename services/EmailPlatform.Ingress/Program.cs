using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;

if (args is [HealthProbe.Command, ..])
{
    return await HealthProbe.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddMessageBus(bus => bus.AddIngressConsumers(), readyWithoutBroker: true);
builder.AddIngress();

var app = builder.Build();

if (args is ["migrate", ..])
{
    await app.Services.MigrateStoreAsync<IngressDbContext>();
    return 0;
}

app.MapDefaultEndpoints();
app.MapIngress();

await app.RunAsync();
return 0;
