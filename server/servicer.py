"""The Recommender service: each method converts at the edge and calls the core."""

from __future__ import annotations

import grpc

from movierec.recommender import validate_feedback, validate_query
from movierec.server.convert import (
    feedback_args_from_pb,
    feedback_response_to_pb,
    index_info_to_pb,
    movie_details_to_pb,
    recommend_args_from_pb,
    recommend_response_to_pb,
    search_response_to_pb,
    user_to_pb,
)
from movierec.server.state import ServingState
from movierec.v1 import recommender_pb2 as pb

# A call without a deadline reports a time_remaining() of hundreds of years, more than a
# thread wait accepts (OverflowError): anything beyond a day is treated as "no deadline".
NO_DEADLINE_S = 86_400.0


def _deadline_s(context: grpc.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None or remaining > NO_DEADLINE_S else remaining


class RecommenderServicer:
    def __init__(self, state: ServingState):
        self.state = state

    def Recommend(self, request: pb.RecommendRequest, context: grpc.ServicerContext) -> pb.RecommendResponse:
        query = validate_query(
            **recommend_args_from_pb(request), max_prompt_chars=self.state.settings.server.max_prompt_chars
        )
        return recommend_response_to_pb(
            self.state.recommend(query, timeout_s=_deadline_s(context)), details=request.with_details
        )

    def GetIndexInfo(self, request: pb.GetIndexInfoRequest, context: grpc.ServicerContext) -> pb.IndexInfo:
        return index_info_to_pb(self.state.info())

    def RecordFeedback(self, request: pb.FeedbackRequest, context: grpc.ServicerContext) -> pb.FeedbackResponse:
        stored, ratings = self.state.record_feedback(validate_feedback(**feedback_args_from_pb(request)))
        return feedback_response_to_pb(stored, ratings)

    def GetUser(self, request: pb.GetUserRequest, context: grpc.ServicerContext) -> pb.User:
        return user_to_pb(self.state.user(request.user_id, request.limit))

    def SearchMovies(self, request: pb.SearchMoviesRequest, context: grpc.ServicerContext) -> pb.SearchMoviesResponse:
        return search_response_to_pb(self.state.recommender().search_movies(request.query, request.limit))

    def GetMovie(self, request: pb.GetMovieRequest, context: grpc.ServicerContext) -> pb.MovieDetails:
        return movie_details_to_pb(self.state.recommender().movie(request.movie_id))
