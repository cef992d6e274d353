using EmailPlatform.Delivery;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;

if (args is [HealthProbe.Command, ..])
{
    return await HealthProbe.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddMessageBus(bus => bus.AddDeliveryConsumers());
builder.AddApiKeyAuthentication();
builder.AddDelivery();

var app = builder.Build();

if (args is ["migrate", ..])
{
    await app.Services.MigrateStoreAsync<DeliveryDbContext>();
    return 0;
}

app.MapDefaultEndpoints();
app.MapDelivery();

await app.RunAsync();
return 0;
