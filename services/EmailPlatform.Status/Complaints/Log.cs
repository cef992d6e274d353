namespace EmailPlatform.Status.Complaints;

internal static partial class Log
{
    [LoggerMessage(EventId = 3601, Level = LogLevel.Information,
        Message = "Complaint report ({FeedbackType}) for email {EmailId}; recorded before: {AlreadyRecorded}")]
    public static partial void Received(ILogger logger, Guid emailId, string feedbackType, bool alreadyRecorded);
}
