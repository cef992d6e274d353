using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddMessageBus(bus => bus.AddIngressConsumers(), readyWithoutBroker: true);
builder.AddIngress();

var app = builder.Build();

if (args is ["migrate", ..])
{
    await app.Services.MigrateStoreAsync<IngressDbContext>();
    return;
}

app.MapDefaultEndpoints();
app.MapIngress();

app.Run();
