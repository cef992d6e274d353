using EmailPlatform.Delivery;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddMessageBus(bus => bus.AddDeliveryConsumers());
builder.AddApiKeyAuthentication();
builder.AddDelivery();

var app = builder.Build();

if (args is ["migrate", ..])
{
    await app.Services.MigrateStoreAsync<DeliveryDbContext>();
    return;
}

app.MapDefaultEndpoints();
app.MapDelivery();

app.Run();
