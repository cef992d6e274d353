using EmailPlatform.Ingress;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddIngress();
builder.AddMessageBus(_ => { });

var app = builder.Build();

if (args is ["migrate", ..])
{
    await app.Services.MigrateStoreAsync<IngressDbContext>();
    return;
}

app.MapDefaultEndpoints();
app.MapIngress();

app.Run();
