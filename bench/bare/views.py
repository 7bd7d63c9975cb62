from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.bare.models import BareRow


class BareInsertView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def post(self, request):
        row = BareRow.objects.create(payload=str(request.data.get("payload", ""))[:100])
        return Response({"id": row.id}, status=201)
