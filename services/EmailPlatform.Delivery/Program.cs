using EmailPlatform.Delivery;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Messaging;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddMessageBus(bus => bus.AddDeliveryConsumers());
builder.AddApiKeyAuthentication();
builder.AddDelivery();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapDelivery();

app.Run();
