using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Recording;

/// <summary>Timeline event types, named as webhooks will name them.</summary>
public static class EventTypes
{
    public const string Accepted = "email.accepted";
    public const string Queued = "email.queued";
    public const string Scheduled = "email.scheduled";
    public const string Canceled = "email.canceled";

    /// <summary>A recipient's complaint (<see cref="Complaints.ReportedComplaint"/>): an event, not a state.</summary>
    public const string Complained = "email.complained";

    public static string For(EmailState state) => "email." + state.ToWire();
}
